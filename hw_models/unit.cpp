#include "hw_models/unit.hpp"

namespace nmp::hw {

QueuedUnit::QueuedUnit(isa::Unit id, uint32_t queue_depth, Scoreboard& scoreboard)
    : id_(id), queue_depth_(queue_depth), scoreboard_(scoreboard) {}

void QueuedUnit::push(const Command& cmd, Cycles now) { queue_.push_back({cmd, now + 1}); }

void QueuedUnit::tick(Cycles now) {
  if (!busy_ && !queue_.empty() && queue_.front().visible_at <= now) {
    current_ = queue_.front().cmd;
    queue_.pop_front();
    busy_ = true;
    begin(current_, now);
  }
  if (busy_ && step(now)) {
    scoreboard_.release(current_.seq);
    busy_ = false;
  }
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
