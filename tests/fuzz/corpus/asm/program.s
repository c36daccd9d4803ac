        .equ TILE, 64
        li r1, 0
        li r2, 4096
        li r3, 8192
loop:   dma.load space=asram, sram=r1, dram=r2, rows=2, row_bytes=64, sram_stride=64, dram_stride=64
        gemm act=r1, wgt=r1, acc=r3, m=1, n=TILE, k=(TILE * 2) - 64, act_stride=64, acc_stride=256, mode=accumulate
        vred op=mean, dst=r3, dst_mem=acc, src=r1, src_mem=asram, m=1, n=8, src_stride=64
        addi r4, r4, -1
        bnez r4, loop
        halt
