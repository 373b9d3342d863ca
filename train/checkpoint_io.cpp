#include "train/checkpoint_io.h"

#include "data/h5_attr.h"
#include "data/h5_format.h"
#include "data/h5_object_header.h"
#include "parallel/mpi_check.h"
#include "train/checkpoint_h5.h"

#include <csignal>
#include <cstdlib>
#include <map>

namespace glm3d {

namespace {

const char* const k_groups[] = {"params", "adam_m", "adam_v"};

h5::Handle mpio_fapl(MPI_Comm comm) {
  h5::Handle fapl(H5_CHECK(H5Pcreate(H5P_FILE_ACCESS)), H5Pclose);
  H5_CHECK(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL));
  return fapl;
}

} // namespace

void write_checkpoint_file(const std::string& path, MPI_Comm comm, const CheckpointMeta& meta,
                           const std::vector<TensorPiece>& pieces) {
  int rank = 0;
  MPI_CHECK(MPI_Comm_rank(comm, &rank));
  const char* crash_env = std::getenv("GLM3D_TEST_CRASH_IN_SAVE");
  const bool crash_test = rank == 0 && crash_env && std::atoll(crash_env) == meta.step;
  // The whole save holds the HDF5 lock: the data loader's prefetch thread waits meanwhile.
  auto lock = h5::library_lock();
  h5::Handle fapl = mpio_fapl(comm);
  h5::set_checksummed_format(fapl.get()); // data/h5_check.h
  h5::Handle file;
  try {
    file = h5::Handle(H5_CHECK(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get())), H5Fclose);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "cannot create checkpoint " << path << ": " << e.what();
  }
  write_checkpoint_meta(file.get(), meta);
  const std::vector<CkptTensor> tensors = float_tensors(meta);
  const int num_groups = meta.has_optimizer_state ? 3 : 1;
  const bool bf16_params = meta.param_dtype == "bf16";
  GLM3D_CHECK(bf16_params || meta.param_dtype == "f32") << "param_dtype " << meta.param_dtype;
  h5::Handle bf16t = bf16_h5_type();

  std::map<std::string, std::vector<const TensorPiece*>> by_tensor;
  for (const TensorPiece& p : pieces)
    if (p.counts)
      by_tensor[tensor_path(p.group, p.name)].push_back(&p);

  // Metadata first (collective: every rank creates every dataset), then each rank's data.
  std::vector<h5::Handle> dsets;
  for (int g = 0; g < num_groups; ++g) {
    h5::Handle grp(H5_CHECK(H5Gcreate2(file.get(), k_groups[g], H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)),
                   H5Gclose);
    for (const CkptTensor& t : tensors)
      dsets.push_back(
          create_tensor_dataset(grp.get(), t, g == 0 && bf16_params ? bf16t.get() : H5T_IEEE_F32LE));
  }
  std::vector<uint64_t> sums(dsets.size(), 0);
  for (int g = 0; g < num_groups; ++g) {
    for (size_t i = 0; i < tensors.size(); ++i) {
      const CkptTensor& t = tensors[i];
      const size_t d = size_t(g) * tensors.size() + i;
      // Simulates a node dying halfway through writing the data (no flush: that is collective).
      if (crash_test && g == 0 && i == tensors.size() / 2)
        std::raise(SIGKILL);
      auto it = by_tensor.find(tensor_path(k_groups[g], t.name));
      if (it == by_tensor.end())
        continue;
      for (const TensorPiece* p : it->second)
        sums[d] += write_tensor_piece(dsets[d].get(), t, p->data, p->rects,
                                      g == 0 && bf16_params ? bf16t.get() : H5I_INVALID_HID);
    }
  }
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, sums.data(), int(sums.size()), MPI_UINT64_T, MPI_SUM, comm));
  for (size_t d = 0; d < dsets.size(); ++d)
    h5::write_attr_u64(dsets[d].get(), "checksum", sums[d]);
  dsets.clear();
  H5_CHECK(H5Fflush(file.get(), H5F_SCOPE_GLOBAL));
}

void ChecksumTally::verify(const std::string& path) const {
  for (const auto& [name, s] : sums_)
    check_checksum(path, name, s.stored, s.data);
}

void read_checkpoint_file(const std::string& path, MPI_Comm comm, const CheckpointMeta& meta,
                          std::vector<TensorPiece>& pieces, ChecksumTally* tally) {
  auto lock = h5::library_lock();
  h5::Handle fapl = mpio_fapl(comm);
  h5::Handle file;
  try {
    file = h5::Handle(H5_CHECK(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get())), H5Fclose);
  } catch (const Error& e) {
    GLM3D_USAGE_FAIL() << "checkpoint " << path << " cannot be opened (truncated or not HDF5?): " << e.what();
  }
  h5::check_object_header(file.get()); // the root group's heap, before any lookup
  const std::vector<CkptTensor> tensors = float_tensors(meta);
  bool want_adam = false;
  for (const TensorPiece& p : pieces)
    want_adam |= p.group != "params";
  int any_adam = want_adam ? 1 : 0;
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, &any_adam, 1, MPI_INT, MPI_MAX, comm));
  GLM3D_USAGE_CHECK(!any_adam || meta.has_optimizer_state)
      << "checkpoint " << path << " holds no optimizer state (kind '" << meta.kind << "')";
  const int num_groups = any_adam ? 3 : 1;

  // Every rank checks every dataset, so a bad file fails on all ranks alike.
  std::map<std::string, size_t> index;
  std::vector<h5::Handle> dsets;
  std::vector<uint64_t> stored;
  for (int g = 0; g < num_groups; ++g) {
    for (const CkptTensor& t : tensors) {
      index[tensor_path(k_groups[g], t.name)] = dsets.size();
      stored.push_back(0);
      dsets.push_back(open_tensor_checked(file.get(), path, k_groups[g], t, stored.back()));
    }
  }
  std::vector<uint64_t> sums(dsets.size(), 0);
  std::vector<int> read(dsets.size(), 0); // tensors some rank read a counted piece of
  for (TensorPiece& p : pieces) {
    const std::string name = tensor_path(p.group, p.name);
    const auto it = index.find(name);
    GLM3D_USAGE_CHECK(it != index.end() || meta.kind != k_quantized_kind)
        << "checkpoint " << path << " is quantized (kind '" << k_quantized_kind << "'): '" << name
        << "' is not stored as floats; only glm3d generate, chat and finetune --method qlora read quantized "
           "checkpoints";
    GLM3D_CHECK(it != index.end()) << "no tensor " << name << " in the config";
    const CkptTensor& t = tensors[it->second % tensors.size()];
    read_tensor_piece(dsets[it->second].get(), p.data, p.rects, path, name);
    if (p.counts) {
      sums[it->second] += checksum_rects(p.data, p.rects, t.cols);
      read[it->second] = 1;
    }
  }
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, sums.data(), int(sums.size()), MPI_UINT64_T, MPI_SUM, comm));
  MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, read.data(), int(read.size()), MPI_INT, MPI_MAX, comm));
  // A tensor no rank read (a load in parts: glm3d generate reads layer by layer) is checked by the
  // call that reads it.
  for (const auto& [name, d] : index)
    if (read[d] && tally)
      tally->add(name, stored[d], sums[d]);
    else if (read[d])
      check_checksum(path, name, stored[d], sums[d]);
}

} // namespace glm3d
