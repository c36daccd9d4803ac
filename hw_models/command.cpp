#include "hw_models/command.hpp"

namespace nmp::hw {

const char* to_string(MemSpace space) {
  switch (space) {
    case MemSpace::kWeightSram:
      return "wsram";
    case MemSpace::kActSram:
      return "asram";
    case MemSpace::kAccSram:
      return "acc";
    case MemSpace::kDram:
      return "dram";
  }
  return "?";
}

}  // namespace nmp::hw
