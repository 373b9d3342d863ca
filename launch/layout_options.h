#pragma once
// The parallel layout options of every command that lays a model out over ranks (train,
// finetune, ckpt reshard): --tp --pp --dp --virtual-stages --pp-layers --zero, into `o`.
// --pp-layers stays text in pp_layers until parse_pp_layers (pipeline/partition.h).
#include "launch/options.h"
#include "train/train_options.h"

#include <string>

namespace glm3d {

void add_layout_options(po::options_description& desc, TrainOptions& o, std::string& pp_layers);

} // namespace glm3d
