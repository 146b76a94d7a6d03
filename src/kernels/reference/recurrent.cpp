// The recurrent family: LSTM, GRU and RNN. The kernels live in lstm.cpp, gru.cpp and rnn.cpp;
// what they share (activations, layout, direction, input checks) is in recurrent_common.h.
#include "kernels/kernel.h"
#include "kernels/reference/recurrent_common.h"

namespace ocs {

void register_recurrent_kernels(KernelRegistry& registry) {
  registry.add_reference("LSTM", recurrent_lstm);
  registry.add_reference("GRU", recurrent_gru);
  registry.add_reference("RNN", recurrent_rnn);
}

}  // namespace ocs
