// Fuzzes the technology library reader and the energy model's check that every entry is used
// and every event priced.
#include "fuzz_support.hpp"
#include "sim/energy_model.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const nmp::sim::HardwareConfig hw =
      nmp::sim::load_hardware(std::string(NMP_SOURCE_DIR) + "/configs/hw/default.json", {});
  return nmp::fuzz::run(data, size, [](const std::string& path) {
    (void)nmp::sim::build_energy_model(hw, nmp::sim::load_technology(path, {}));
  });
}
