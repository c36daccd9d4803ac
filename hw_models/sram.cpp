#include "hw_models/sram.hpp"

namespace nmp::hw {

const char* to_string(PortConfig ports) {
  switch (ports) {
    case PortConfig::kOneRw: return "1rw";
    case PortConfig::kOneROneW: return "1r1w";
    case PortConfig::kTwoRw: return "2rw";
  }
  return "?";
}

void SramStats::visit(const std::string& sram, const CounterFn& fn) const {
  fn({"read_words", "words", "words read from " + sram, "sram." + sram + ".read_word"},
     read_words);
  fn({"write_words", "words", "words written to " + sram, "sram." + sram + ".write_word"},
     write_words);
}

Sram::Sram(const SramParams& params, unsigned id)
    : params_(params),
      id_(id),
      word_bytes_(params.width_bits / 8),
      data_(params.capacity_bytes, 0),
      use_(static_cast<size_t>(params.banks) * 2) {}

uint32_t Sram::ports_of_class(unsigned cls) const {
  switch (params_.ports) {
    case PortConfig::kOneRw: return cls == 0 ? 1 : 0;
    case PortConfig::kOneROneW: return 1;
    case PortConfig::kTwoRw: return cls == 0 ? 2 : 0;
  }
  return 0;
}

unsigned Sram::port_class(Access access) const {
  return params_.ports == PortConfig::kOneROneW && access == Access::kWrite ? 1 : 0;
}

uint32_t Sram::words_per_cycle(Access access) const {
  return params_.banks * ports_of_class(port_class(access));
}

bool Sram::try_claim(Cycles now, uint64_t word, Access access) {
  const unsigned cls = port_class(access);
  PortUse& u = use_[(word % params_.banks) * 2 + cls];
  if (u.cycle != now) {
    u.cycle = now;
    u.used = 0;
  }
  if (u.used == ports_of_class(cls)) return false;
  ++u.used;
  return true;
}

void Sram::count_words(uint32_t layer, Access access, uint64_t words) {
  SramStats& s = stats_for_layer<SramStats>(stats_, layer);
  (access == Access::kRead ? s.read_words : s.write_words) += words;
}

}  // namespace nmp::hw
