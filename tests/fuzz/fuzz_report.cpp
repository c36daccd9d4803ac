// Fuzzes the report reader behind `nmpsim energy` and `nmpsim compare`, and both renderings.
#include "fuzz_support.hpp"
#include "sim/report_tools.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return nmp::fuzz::run(data, size, [](const std::string& path) {
    const nmp::sim::Json r = nmp::sim::load_report(path);
    (void)nmp::sim::energy_report(r);
    (void)nmp::sim::compare_reports(r, r, "a", "b");
  });
}
