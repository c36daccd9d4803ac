        vred op=median, dst=r1, dst_mem=acc, src=r2, src_mem=asram, m=1, n=8, src_stride=8
        halt
