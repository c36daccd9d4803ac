#!/usr/bin/env python3
"""Runs the same DRAM traces through DRAMsim3 and `nmpsim dram`, side by side.

DRAMsim3 is not part of nmpsim and is not needed to build or test it: build it yourself
(github.com/umd-memsys/DRAMsim3; cmake, make) and pass its directory. Used for the table in
docs/validation.md ("DRAM against DRAMsim3").

    scripts/compare_dramsim3.py --dramsim3 /path/to/DRAMsim3 [--nmpsim build/nmpsim] [STANDARD...]

Both simulators get the same device (DRAMsim3's .ini for the standard), the same address
mapping, one channel's capacity, a 32-entry transaction queue and open (or closed) pages.
Differences in how the two count things, handled here:
  - DRAMsim3 reports energy in mW x DRAM cycles labelled pJ (its issue #18, pull request #49):
    multiplied here by tCK in ns. Its energy has no I/O term: nmpsim's io_read/io_write are
    left out of the comparison.
  - DRAMsim3's trace front end adds at most one request per cycle: HBM2 (8 channels of 32 GB/s,
    64-byte requests at 1 GHz) runs as one channel in both, so the DRAM and not the front end
    sets the pace.
  - DRAMsim3 reports run length by the cycle count it is given: the script searches for the
    fewest cycles in which every request is done.
"""
import argparse, configparser, json, os, random, re, subprocess, sys, tempfile

STANDARDS = {  # nmpsim standard -> DRAMsim3 configuration
    'DDR4_8Gb_x8_2400': 'DDR4_8Gb_x8_2400.ini',
    'LPDDR4_8Gb_x16_2400': 'LPDDR4_8Gb_x16_2400.ini',
    'HBM2_8Gb_x128': 'HBM2_8Gb_x128.ini',
}
MAPPING = 'ro,ra,ba,co,bg,ch'
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def nmp_hw(work, std, page):
    hw = json.load(open(f'{REPO}/configs/hw/default.json'))
    hw['dram'] = {'standard': std, 'address_mapping': MAPPING, 'queue_depth': 32,
                  'page_policy': page}
    if std.startswith('HBM'):
        hw['dram']['channels'] = 1
    hw['technology'] = f'{REPO}/configs/tech/45nm.json'
    path = f'{work}/{std}.{page}.hw.json'
    json.dump(hw, open(path, 'w'))
    return path


def ds3_ini(ds3, work, std, page, channel_mb):
    c = configparser.ConfigParser()
    c.read(f'{ds3}/configs/{STANDARDS[std]}')
    c['system']['channel_size'] = str(channel_mb)
    c['system']['channels'] = '1' if std.startswith('HBM') else c['system'].get('channels', '1')
    c['system']['address_mapping'] = MAPPING.replace(',', '')
    c['system']['trans_queue_size'] = '32'
    c['system']['row_buf_policy'] = 'OPEN_PAGE' if page == 'open' else 'CLOSE_PAGE'
    c['other']['output_level'] = '1'
    path = f'{work}/{std}.{page}.ini'
    with open(path, 'w') as f:
        c.write(f)
    return path


def traces(burst, row, capacity):
    rnd = random.Random(7)
    n = 40000
    bursts = capacity // burst
    return {
        'sequential read': [(i * burst, 'READ', 0) for i in range(n)],
        'stride 3 rows': [(i * row * 3 % capacity, 'READ', 0) for i in range(n // 2)],
        'random read': [(rnd.randrange(bursts) * burst, 'READ', 0) for _ in range(n // 2)],
        'random 2:1 read:write': [(rnd.randrange(bursts) * burst,
                                   'WRITE' if rnd.random() < 1 / 3 else 'READ', 0)
                                  for _ in range(n // 2)],
        'sequential write': [(i * burst, 'WRITE', 0) for i in range(n)],
        'random, 200 cycles apart': [(rnd.randrange(bursts) * burst, 'READ', i * 200)
                                     for i in range(2000)],
    }


def write_trace(path, reqs):
    with open(path, 'w') as f:
        for address, op, cycle in reqs:
            f.write(f'{hex(address)} {op} {cycle}\n')


def ds3_stats(ds3, work, ini, trace, cycles):
    out = f'{work}/ds3out'
    os.makedirs(out, exist_ok=True)
    subprocess.run([f'{ds3}/build/dramsim3main', ini, '-c', str(cycles), '-t', trace, '-o', out],
                   capture_output=True, check=True)
    stats = {}
    for line in open(f'{out}/dramsim3.txt'):
        m = re.match(r'(\w+(?:\.\d+)?)\s*=\s*([-\d.e+]+)', line)
        if m:
            stats[m.group(1)] = stats.get(m.group(1), 0) + float(m.group(2))
    return stats


def ds3_run(ds3, work, ini, trace, n):
    done = lambda s: s['num_reads_done'] + s['num_writes_done'] >= n
    lo, hi = 1, 64
    while not done(ds3_stats(ds3, work, ini, trace, hi)):
        hi *= 2
    while hi - lo > max(1, hi // 2000):
        mid = (lo + hi) // 2
        if done(ds3_stats(ds3, work, ini, trace, mid)):
            hi = mid
        else:
            lo = mid
    return hi, ds3_stats(ds3, work, ini, trace, hi)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--dramsim3', required=True, help='a built DRAMsim3 checkout')
    ap.add_argument('--nmpsim', default=f'{REPO}/build/nmpsim')
    ap.add_argument('--json', help='write the rows here')
    ap.add_argument('standards', nargs='*', default=list(STANDARDS))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix='dramcmp.')
    rows = []
    print('| standard | page | trace | GB/s nmpsim | GB/s DRAMsim3 | read latency ns nmpsim | '
          'DRAMsim3 | row hits nmpsim | DRAMsim3 | ACT nmpsim | DRAMsim3 | REF nmpsim | '
          'DRAMsim3 | core pJ/bit nmpsim | DRAMsim3 |')
    print('|' + '---|' * 15)
    for std in args.standards:
        for page in ('open', 'closed') if std.startswith('DDR4') else ('open',):
            hw = nmp_hw(work, std, page)
            probe = f'{work}/probe.trace'
            write_trace(probe, [(0, 'READ', 0)])
            r0 = json.loads(subprocess.run([args.nmpsim, 'dram', '--hw', hw, probe],
                                           capture_output=True, text=True, check=True).stdout)
            burst, c = r0['bytes'], r0['config']
            row = c['columns'] * c['bus_width_bits'] // 8
            capacity = (c['channels'] * c['ranks'] * c['bank_groups'] * c['banks_per_group'] *
                        c['rows'] * row)
            tck = 1e3 / c['timing']['clock_mhz']
            ini = ds3_ini(args.dramsim3, work, std, page, capacity // c['channels'] >> 20)
            for name, reqs in traces(burst, row, capacity).items():
                if page == 'closed' and 'random' not in name and 'sequential read' != name:
                    continue
                path = f'{work}/trace'
                write_trace(path, reqs)
                n = len(reqs)
                ours = json.loads(subprocess.run([args.nmpsim, 'dram', '--hw', hw, path],
                                                 capture_output=True, text=True,
                                                 check=True).stdout)
                cycles, s = ds3_run(args.dramsim3, work, ini, path, n)
                bits = 8 * n * burst
                e = ours['energy_pj']
                r = dict(standard=std, page=page, trace=name, requests=n,
                         gbps=(ours['bandwidth_gbps'], n * burst / (cycles * tck)),
                         read_latency_ns=(ours['avg_read_latency_ns'],
                                          s['average_read_latency'] * tck),
                         row_hits=(ours['row_hits'], s['num_read_row_hits'] +
                                   s['num_write_row_hits']),
                         act=(ours['commands']['act'], s['num_act_cmds']),
                         ref=(ours['commands']['ref'], s['num_ref_cmds']),
                         core_pj_per_bit=((e['total'] - e['io_read'] - e['io_write']) / bits,
                                          s['total_energy'] * tck / bits))
                rows.append(r)
                print(f"| {std} | {page} | {name} | {r['gbps'][0]:.2f} | {r['gbps'][1]:.2f} | "
                      f"{r['read_latency_ns'][0]:.1f} | {r['read_latency_ns'][1]:.1f} | "
                      f"{r['row_hits'][0]} | {int(r['row_hits'][1])} | {r['act'][0]} | "
                      f"{int(r['act'][1])} | {r['ref'][0]} | {int(r['ref'][1])} | "
                      f"{r['core_pj_per_bit'][0]:.2f} | {r['core_pj_per_bit'][1]:.2f} |",
                      flush=True)
    if args.json:
        json.dump(rows, open(args.json, 'w'), indent=1)


if __name__ == '__main__':
    sys.exit(main())
