// Recurrent layers (LSTM, GRU) on the machine: lowering to a program and the references.
//
// A layer runs direction by direction (forward, then backward for a bidirectional layer) over
// the T timesteps of one sequence, in chunks of the most timesteps that fit the SRAMs. With all
// vectors in the vector unit's internal format `vec` (docs/isa.md), a chunk of m timesteps:
//   1. DMAs its m rows of x into the activation SRAM and quantizes them for the MAC array:
//      integer kinds a = absmax(x), x_q = int8(x * (127 / a)) and the dequantization factor
//      f_x = a * (s_W / 127), per row; other kinds x_q = act(x).
//   2. Computes the input gates of all m timesteps, which do not depend on the recurrence: one
//      gemm W x_q of m rows, converted to vec, times f_x (integer kinds), + b_ih (GRU).
//   3. Runs its m timesteps in a counted hardware loop (dbnz), each: gemm U h_q (h_q: the
//      previous timestep's h, quantized the same way with s_U), converted to vec, times f_h;
//      LSTM: gates = (gx + U h) + b, b = b_ih + b_hh rounded once to vec, lstm.cell updates c
//      and writes h; GRU: gh = U h + b_hh, gru.cell(gx, gh) updates h. Then DMA h_t out to the
//      layer's output (row t: [forward | backward]) and quantize it into h_q.
// h and c start at 0. U stays in the weight SRAM across timesteps when it fits beside W's two
// streaming buffers ("resident"), W too if it fits beside U; otherwise every timestep streams
// U through the two halves of the weight SRAM, and W streams once per chunk, which is what
// makes weight storage the bottleneck of an LSTM engine with small buffers.
//
// The references: the exact model (the same arithmetic written as plain loops: products summed
// as the MAC array does, then VectorMath operations in the order above), which the simulated
// outputs must equal bit for bit; and an FP32 model (the latent weights, float gates with exact
// sigmoid and tanh), for the numerical error.
//
// A recurrent layer is a layer of a graph model (workloads/graph.hpp), which places, writes and
// emits it with the functions below and checks it with reference_recurrent_layer.
#pragma once

#include <memory>

#include "workloads/lowering.hpp"
#include "workloads/program_builder.hpp"
#include "workloads/reference.hpp"
#include "workloads/tiling.hpp"

namespace nmp::workloads {

// One recurrent layer's place in DRAM and on chip; x and y are tensors of the graph.
struct RecurrentLayout {
  struct Matrix {  // W, or outputs [n0, n0 + n) of U, of one direction: its tiles in DRAM
    uint32_t n0 = 0, n = 0, k = 0;
    WeightTiling tiling;
    std::vector<WeightTile> tiles;
  };
  struct Act {  // a timestep's activation SRAM regions (byte addresses)
    uint64_t hq, h, c, gh, bias, consts, end;
  };
  struct Chunk {  // `rows` timesteps' inputs and input gates, above the timestep's regions
    uint32_t rows;
    uint64_t xv, xv_row, xq, xq_row, gx, gx_row, a, r, q, f;  // activation SRAM
    uint64_t acc, acc_row;                                    // accumulator SRAM
  };
  struct WeightSram {  // where U and W sit, and the two buffers they stream through
    bool w_resident = false;
    uint64_t w = 0;                            // a resident W (U's resident outputs at 0)
    uint64_t stream_base = 0, stream_sum = 0;  // buffers at base and sum - base
  };
  Act act{};
  Chunk chunk{};
  WeightSram wsram{};
  // Per direction: W; U's outputs that stay in the weight SRAM and those that stream every
  // timestep (either may have none).
  std::vector<Matrix> w, u_stay, u;
  std::vector<uint64_t> bias_dram, const_dram;
  uint64_t zero_dram = 0;  // zeros for h, c, h_q and f_h at the start of each direction
  // In a step loop (one timestep per step): where h, c, h_q and f_h wait between steps, at
  // their activation SRAM offsets (act.end bytes; zeros before the first step). 0: none.
  uint64_t state_dram = 0;
};
// A LoweringError (naming layer `index`) when the SRAMs cannot hold a step. `dram` prices the
// streaming buffers' size where part of U stays.
RecurrentLayout place_recurrent(const LayerSpec& l, size_t index, uint32_t tokens,
                                const hw::NmpParams& hw, const hw::DramRate& dram,
                                RegionAllocator& allocate);
// The layer's plan for reports (x_dram and y_dram left to the caller).
LayerPlan recurrent_plan(const LayerSpec& l, const RecurrentLayout& lay, uint32_t tokens);
void write_recurrent(const RecurrentLayout& lay, const LayerSpec& l, const LayerData& ld,
                     const hw::NmpParams& hw, hw::ZeroPages& image);
// The layer's code over `tokens` timesteps, reading rows of x and writing rows of y, stored
// as `storage` says.
void emit_recurrent(ProgramBuilder& b, const RecurrentLayout& lay, const LayerSpec& l,
                    uint32_t tokens, uint64_t x, uint64_t y, const TensorStorage& storage,
                    const hw::NmpParams& hw);
// A forward layer stepped one timestep at a time (a step loop's reference): the exact and the
// FP32 model side by side, each carrying its state from step to step.
class RecurrentStepper {
 public:
  RecurrentStepper(const LayerSpec& l, const LayerData& ld, const LayerPlan& plan,
                   const hw::NmpParams& hw);
  ~RecurrentStepper();
  RecurrentStepper(RecurrentStepper&&) noexcept;
  // The next timestep's output row from its input row (exact, FP32), appended to `out`.
  void step(const std::vector<uint32_t>& x, const float* x_fp32, LayerReference& out);

 private:
  struct Cells;
  std::unique_ptr<Cells> cells_;
};

// Exact and FP32 outputs of one layer from its input's exact (vec) and FP32 values.
LayerReference reference_recurrent_layer(const LayerSpec& l, uint32_t tokens,
                                         const std::vector<uint32_t>& x,
                                         const std::vector<float>& x_fp32, const LayerData& ld,
                                         const LayerPlan& plan, const hw::NmpParams& hw);

}  // namespace nmp::workloads
