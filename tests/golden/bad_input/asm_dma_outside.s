        li r1, 0
        li r2, 0
        dma.load space=asram, sram=r1, dram=r2, rows=1, row_bytes=64, sram_stride=64, dram_stride=64
        halt
