#include "hw_models/sram.hpp"

namespace nmp::hw {

const char* to_string(PortConfig ports) {
  switch (ports) {
    case PortConfig::kOneRw:
      return "1rw";
    case PortConfig::kOneROneW:
      return "1r1w";
    case PortConfig::kTwoRw:
      return "2rw";
  }
  return "?";
}

void SramStats::visit(const std::string& sram, const CounterFn& fn) const {
  fn({"read_words", "words", "words read from " + sram, "sram." + sram + ".read_word"}, read_words);
  fn({"write_words", "words", "words written to " + sram, "sram." + sram + ".write_word"},
     write_words);
}

Sram::Sram(const SramParams& params, unsigned id)
    : params_(params),
      id_(id),
      word_bytes_(params.width_bits / 8),
      bank_mask_(params.banks > 1 && (params.banks & (params.banks - 1)) == 0 ? params.banks - 1
                                                                              : 0),
      word_shift_((word_bytes_ & (word_bytes_ - 1)) == 0 ? __builtin_ctz(word_bytes_) : -1),
      data_(params.capacity_bytes),
      use_(static_cast<size_t>(params.banks) * 2) {}

void Sram::materialize_run(unsigned cls) {
  const Run run = run_[cls];
  run_[cls].cycle = kNever;
  for (uint64_t w = run.first; w < run.first + run.count; ++w) {
    PortUse& u = use_[(bank_mask_ ? w & bank_mask_ : w % params_.banks) * 2 + cls];
    if (u.cycle != run.cycle) {
      u.cycle = run.cycle;
      u.used = 0;
    }
    ++u.used;
  }
}

void Sram::count_words(uint32_t layer, Access access, uint64_t words) {
  SramStats& s = stats_for_layer<SramStats>(stats_, layer);
  (access == Access::kRead ? s.read_words : s.write_words) += words;
}

}  // namespace nmp::hw
