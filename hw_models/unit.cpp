#include "hw_models/unit.hpp"

namespace nmp::hw {

QueuedUnit::QueuedUnit(isa::Unit id, uint32_t queue_depth, Scoreboard& scoreboard)
    : id_(id), queue_depth_(queue_depth), scoreboard_(scoreboard) {}

void QueuedUnit::push(const Command& cmd, Cycles now) {
  queue_.push_back({cmd, now + 1});
  if (timeline_) timeline_->queue(id_, now + 1, queue_.size());
}

void QueuedUnit::tick(Cycles now) {
  if (!busy_ && !queue_.empty() && queue_.front().visible_at <= now) {
    current_ = queue_.front().cmd;
    queue_.pop_front();
    busy_ = true;
    if (timeline_) {
      timeline_->queue(id_, now + 1, queue_.size());
      began_ = now;
      work_at_begin_ = work_count();
    }
    begin(current_, now);
  }
  if (!busy_) return;
  if (timeline_) {
    const std::array<uint64_t, kNumSrams> stalls_before = stall_counts();
    const bool ended = step(now);
    record_cycle(now, stalls_before, ended);
    if (!ended) return;
  } else if (!step(now)) {
    return;
  }
  scoreboard_.release(current_.seq);
  busy_ = false;
}

void QueuedUnit::record_cycle(Cycles now, const std::array<uint64_t, kNumSrams>& stalls_before,
                              bool ended) {
  const std::array<uint64_t, kNumSrams>& stalls = stall_counts();
  for (uint32_t i = 0; i < kNumSrams; ++i) {
    if (stalls[i] != stalls_before[i]) timeline_->sram_stall(id_, i, now);
  }
  if (ended) timeline_->command(id_, current_, began_, now + 1, work_count() - work_at_begin_);
}

Cycles QueuedUnit::quiet_cycles(Cycles now) const {
  if (busy_) return op_quiet_cycles(now);
  if (!queue_.empty())
    return queue_.front().visible_at <= now ? 0 : queue_.front().visible_at - now;
  return kNever;
}

void QueuedUnit::skip(Cycles now, Cycles n) {
  if (busy_) op_skip(now, n);
}

}  // namespace nmp::hw
