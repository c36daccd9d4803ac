#!/usr/bin/env python3
"""Runs CACTI over a grid of SRAM macros and prints the points for configs/tech/45nm.json.

CACTI is not part of nmpsim and is not needed to build or test it: build it yourself
(github.com/HewlettPackard/cacti, `make`) and pass its directory. The points it prints are the
`sram.macros` table of the 45 nm library: one macro (one bank) per point, 2 KiB to 2 MiB,
words of 32 to 512 bits, ports 1rw, 1r1w and 2rw; a scratch RAM (no tags) at 350 K, CACTI's
default objective (cycle time), of ITRS low-operating-power cells and periphery (the library's
choice: an accelerator's SRAM, not a CPU cache's; --cells itrs-hp gives high-performance ones).

    scripts/cacti_sram_points.py --cacti /path/to/cacti [--cells itrs-lop] [--node-um 0.045] \
        > /tmp/points.json

Other nodes (--node-um 0.028, ...) check the node rule that scales the 45 nm points to the other
libraries (docs/validation.md).
"""
import argparse, itertools, json, re, subprocess, sys, tempfile
from concurrent.futures import ThreadPoolExecutor

CAPACITIES_KIB = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048]
WIDTHS = [32, 64, 128, 256, 512]
PORTS = {'1rw': (1, 0, 0), '1r1w': (0, 1, 1), '2rw': (2, 0, 0)}


def config(size_bytes, width_bits, ports, cells, node_um=0.045):
    rw, r, w = PORTS[ports]
    lines = {
        'size (bytes)': size_bytes, 'block size (bytes)': width_bits // 8, 'associativity': 1,
        'read-write port': rw, 'exclusive read port': r, 'exclusive write port': w,
        'single ended read ports': 0, 'UCA bank count': 1, 'technology (u)': node_um,
        'page size (bits)': 8192, 'burst length': 8, 'internal prefetch width': 8,
        'Data array cell type -': f'"{cells}"', 'Data array peripheral type -': f'"{cells}"',
        'Tag array cell type -': f'"{cells}"', 'Tag array peripheral type -': f'"{cells}"',
        'output/input bus width': width_bits, 'operating temperature (K)': 350,
        'cache type': '"ram"', 'tag size (b)': '"default"',
        'access mode (normal, sequential, fast) -': '"normal"',
        'design objective (weight delay, dynamic power, leakage power, cycle time, area)':
            '0:0:0:100:0',
        'deviate (delay, dynamic power, leakage power, cycle time, area)':
            '20:100000:100000:100000:100000',
        'NUCAdesign objective (weight delay, dynamic power, leakage power, cycle time, area)':
            '100:100:0:0:100',
        'NUCAdeviate (delay, dynamic power, leakage power, cycle time, area)':
            '10:10000:10000:10000:10000',
        'Optimize ED or ED^2 (ED, ED^2, NONE):': '"NONE"', 'Cache model (NUCA, UCA)  -': '"UCA"',
        'NUCA bank count': 0, 'Wire signaling (fullswing, lowswing, default) -': '"Global_30"',
        'Wire inside mat -': '"semi-global"', 'Wire outside mat -': '"semi-global"',
        'Interconnect projection -': '"conservative"', 'Core count': 8,
        'Cache level (L2/L3) -': '"L3"', 'Add ECC -': '"false"',
        'Print level (DETAILED, CONCISE) -': '"DETAILED"', 'Print input parameters -': '"false"',
        'Force cache config -': '"false"', 'Ndwl': 1, 'Ndbl': 1, 'Nspd': 0, 'Ndcm': 1,
        'Ndsam1': 0, 'Ndsam2': 0, 'Array Power Gating -': '"false"',
        'WL Power Gating -': '"false"', 'CL Power Gating -': '"false"',
        'Bitline floating -': '"false"', 'Interconnect Power Gating -': '"false"',
        'Power Gating Performance Loss': 0.01,
    }
    # CACTI reads its memory-interface fields even for an SRAM: its sample values.
    io = ('-dram_type "DDR3"\n-io state "WRITE"\n-addr_timing 1.0\n-mem_density 4 Gb\n'
          '-bus_freq 800 MHz\n-duty_cycle 1.0\n-activity_dq 1.0\n-activity_ca 1.0\n'
          '-num_dq 72\n-num_dqs 18\n-num_ca 25\n-num_clk  2\n-num_mem_dq 2\n'
          '-mem_data_width 8\n-rtt_value 10000\n-ron_value 34\n-tflight_value\n'
          '-num_bobs 1\n-capacity 80\n-num_channels_per_bob 1\n-first metric "Cost"\n'
          '-second metric "Bandwidth"\n-third metric "Energy"\n-DIMM model "ALL"\n'
          '-Low Power Permission "N"\n')
    return ''.join(f'-{k} {v}\n' for k, v in lines.items()) + io


def number(text, label):
    m = re.search(re.escape(label) + r'\s*:?\s*([-\d.e+]+)', text)
    if not m:
        raise RuntimeError(f'CACTI printed no "{label}"')
    return float(m.group(1))


def run(cacti, cells, point, node_um=0.045):
    kib, width, ports = point
    with tempfile.NamedTemporaryFile('w', suffix='.cfg') as f:
        f.write(config(kib * 1024, width, ports, cells, node_um))
        f.flush()
        out = subprocess.run(['./cacti', '-infile', f.name], cwd=cacti, capture_output=True,
                             text=True, check=True).stdout
    return {
        'capacity_kib': kib, 'width_bits': width, 'ports': ports,
        'read_pj': round(number(out, 'Total dynamic read energy per access (nJ)') * 1e3, 4),
        'write_pj': round(number(out, 'Total dynamic write energy per access (nJ)') * 1e3, 4),
        'leakage_mw': round(number(out, 'Total leakage power of a bank (mW)') +
                            number(out, 'Total gate leakage power of a bank (mW)'), 4),
        'area_um2': round(number(out, 'Data array: Area (mm2)') * 1e6, 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--cacti', required=True, help='a built CACTI checkout')
    ap.add_argument('--cells', default='itrs-lop', choices=['itrs-hp', 'itrs-lop', 'itrs-lstp'],
                    help='ITRS device type of cells and periphery')
    ap.add_argument('--node-um', type=float, default=0.045,
                    help='technology node in micrometres (the 45 nm library: 0.045; CACTI '
                         'interpolates between its nodes, 0.022 to 0.090)')
    args = ap.parse_args()
    grid = list(itertools.product(CAPACITIES_KIB, WIDTHS, PORTS))
    with ThreadPoolExecutor(2) as pool:
        points = list(pool.map(lambda p: run(args.cacti, args.cells, p, args.node_um), grid))
    print('[\n' + ',\n'.join('  ' + json.dumps(p) for p in points) + '\n]')


if __name__ == '__main__':
    sys.exit(main())
