// What every lowering shares: the plan each layer reports, how activation tensors sit in DRAM,
// the lowered program and DRAM image, and the error naming the field to change. Every workload
// is lowered by lower_graph (workloads/graph.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "hw_models/analytical.hpp"
#include "hw_models/nmp_top.hpp"
#include "isa/program.hpp"
#include "workloads/model.hpp"

namespace nmp::workloads {

// The hardware (or workload) field that would have to change, and why.
class LoweringError : public std::runtime_error {
 public:
  LoweringError(std::string document, std::string pointer, const std::string& message);
  const std::string& document() const { return document_; }  // "hw" or "workload"
  const std::string& pointer() const { return pointer_; }

 private:
  std::string document_;
  std::string pointer_;
};

struct LayerPlan {
  std::string name;
  uint32_t m = 0, k = 0, n = 0;
  uint32_t m_tile = 0, n_tile = 0, k_tile = 0;
  uint64_t x_dram = 0;  // input, m rows of k elements
  uint64_t w_dram = 0;  // pre-tiled packed weights
  uint64_t w_bytes = 0;
  uint64_t y_dram = 0;  // outputs, m rows of n elements of y_format
  // The format the outputs are stored in DRAM in (dram.activation_format), and the bytes of one
  // element.
  std::string y_format;
  uint32_t y_element_bytes = 0;
  // Recurrent layers: the gemm tiles of W and U (U's streamed part, if any), how many of U's
  // u_rows outputs (gate rows) stay in the weight SRAM, and U's bytes per direction.
  uint32_t w_n_tile = 0, w_k_tile = 0, u_n_tile = 0, u_k_tile = 0;
  uint32_t u_rows_resident = 0, u_rows = 0;
  uint64_t u_bytes = 0;
  uint32_t timesteps = 0;  // recurrent: timesteps run (T x directions); 0 for feedforward
  // Graph linear layers: the mapper's choice (linear_mapping.hpp), its predicted DRAM payload
  // bytes and cycles, and how many mappings it scored. Empty order: not mapped.
  std::string loop_order;
  uint64_t predicted_dram_bytes = 0, predicted_cycles = 0;
  double predicted_energy_pj = 0;
  uint32_t mappings_scored = 0;
  // weights_outer: rows per super tile, per quantize tile and per converted chunk; whether each
  // block's epilogue runs under the next block's first gemm.
  uint32_t super_rows = 0, quantize_rows = 0, epilogue_rows = 0;
  bool epilogue_overlapped = false;
  // weights_outer: the sets of chunk buffers its epilogue alternates between (2: a chunk
  // converted while the one before it stores; 1: one chunk at a time).
  uint32_t epilogue_sets = 0;
  std::string quantized_rows_of;  // weights_outer: the layer whose quantize pass it shares
  bool dma_rows = false;          // weights_outer: the DMA converts its input rows (no pass)
  // weights_outer: the reduction tiles whose slices of the rows stay in the activation SRAM
  // across a super tile's output blocks (InputResidency).
  uint32_t resident_tiles = 0;
  // Fusion (model.hpp): the element-wise layer this linear layer's epilogue runs, whose output
  // it stores instead of its own (which then never crosses DRAM); the linear layer whose
  // epilogue runs this element-wise layer. Empty: none.
  std::string fused_layer, fused_into;
  // Vector layers: the sets of tile buffers their row loop pipelines over (1: tiles in turn),
  // and how many rows each row runs as (element-wise layers; m_tile counts those rows).
  uint32_t buffer_sets = 0, row_split = 1;
  // Attention: the MACs of transposing appended cache columns on the array (an identity gemm),
  // beyond the model's.
  uint64_t transpose_macs = 0;
};

// A layer's plan with its name and shape (rows x in_features -> out_features) filled in.
LayerPlan plan_of(const LayerSpec& l, uint32_t rows);
// How the activation tensors an emitter reads and writes sit in DRAM: in
// dram.activation_format, which the DMAs convert to and from the vector format on chip
// (docs/architecture.md#lowering-graph-models).
struct TensorStorage {
  uint64_t vec_bytes = 4;   // an element on chip
  uint64_t dram_bytes = 4;  // an element in DRAM
  // The formats differ: the tensors' DMAs convert (to the vector format on chip).
  isa::dma::Conversion convert = isa::dma::kNoConversion;
  // How the DMA gives the MAC array its rows straight from DRAM: converted, or copied where
  // the DRAM format is the array's.
  isa::dma::Conversion to_array = isa::dma::kToArray;
  std::string format;  // the DRAM format's name
  static TensorStorage of_graph(const hw::NmpParams& hw);
};
// Marks the plan's outputs as stored in `storage`'s format.
void outputs_stored_as(LayerPlan& plan, const TensorStorage& storage);
// Patterns of `storage`'s DRAM format, each value rounded once.
std::vector<uint32_t> to_activation_format(const TensorStorage& storage,
                                           const std::vector<float>& x);

struct Lowered {
  isa::Program program;
  hw::ZeroPages dram_image;  // empty when lowered without data (timing only)
  uint64_t dram_bytes = 0;   // the DRAM the layout needs
  std::vector<LayerPlan> layers;
  hw::DramRate dram_rate;  // the configured DRAM as the mapper and the analytical model see it
  // Its strided rows' rates, measured as the mapper and the vector layers' plans needed them;
  // the analytical estimate of the program goes on with the same (measured once per shape).
  std::shared_ptr<hw::DramRowRate> dram_rows;
};

class ProgramBuilder;
// A LoweringError if the program so far does not fit the instruction memory (checked as an
// unrolled step loop grows, so that a loop of many steps fails before it is all built).
void check_program_fits(const ProgramBuilder& b, const hw::NmpParams& hw);
// Ends the program with halt; a LoweringError if it does not fit the instruction memory.
isa::Program finish_program(ProgramBuilder& b, const hw::NmpParams& hw);

}  // namespace nmp::workloads
