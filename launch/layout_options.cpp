#include "launch/layout_options.h"

namespace glm3d {

void add_layout_options(po::options_description& desc, TrainOptions& o, std::string& pp_layers) {
  desc.add_options()                                                                          //
      ("tp", defaulted(&o.tp), "tensor-parallel degree")                                      //
      ("pp", defaulted(&o.pp), "pipeline-parallel degree")                                    //
      ("dp", defaulted(&o.dp), "data-parallel degree (0: world / (tp*pp))")                   //
      ("virtual-stages", defaulted(&o.virtual_stages), "model chunks per pipeline rank")      //
      ("pp-layers", po::value(&pp_layers), "layers per pipeline stage, e.g. 8,9,9,9,9,9,9,8") //
      ("zero", defaulted(&o.zero), "ZeRO stage (0 or 1)");
}

} // namespace glm3d
