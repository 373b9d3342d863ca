# The CUDA backend's build (included from the top CMakeLists.txt when GLM3D_CUDA is on).
#
# Architectures: sm_80 (A100) and sm_90 (H100/H200) always, plus whatever GPU nvidia-smi reports
# on the configuring machine (none on CI). Set CMAKE_CUDA_ARCHITECTURES to override.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(_glm3d_archs 80 90)
  find_program(GLM3D_NVIDIA_SMI nvidia-smi)
  if(GLM3D_NVIDIA_SMI)
    execute_process(COMMAND ${GLM3D_NVIDIA_SMI} --query-gpu=compute_cap --format=csv,noheader
      OUTPUT_VARIABLE _glm3d_caps RESULT_VARIABLE _glm3d_rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(_glm3d_rc EQUAL 0 AND _glm3d_caps)
      string(REPLACE "\n" ";" _glm3d_caps "${_glm3d_caps}")
      foreach(_cap ${_glm3d_caps})
        string(STRIP "${_cap}" _cap)
        string(REPLACE "." "" _cap "${_cap}")
        if(_cap MATCHES "^[0-9]+$")
          list(APPEND _glm3d_archs ${_cap})
        endif()
      endforeach()
    endif()
  endif()
  list(REMOVE_DUPLICATES _glm3d_archs)
  set(CMAKE_CUDA_ARCHITECTURES ${_glm3d_archs})
endif()
set(CMAKE_CUDA_FLAGS_RELEASE "-O3 -lineinfo")
enable_language(CUDA)
# CMake 3.25 does not know nvcc's C++20 flag (nvcc >= 12 has it); kernels include core/ headers.
set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)

# NCCL ships inside the CUDA toolkit here (/usr/local/cuda/{include,lib64}); Debian's
# libnccl-dev puts it under /usr. Either is found.
find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS} PATHS /usr/include /usr/local/include)
find_library(NCCL_LIBRARY nccl HINTS ${CUDAToolkit_LIBRARY_DIR} PATHS /usr/lib/x86_64-linux-gnu)
if(NOT NCCL_INCLUDE_DIR OR NOT NCCL_LIBRARY)
  message(FATAL_ERROR "GLM3D_CUDA=ON needs NCCL (nccl.h and libnccl): not found next to CUDA ${CUDAToolkit_VERSION}")
endif()

# glm3d_cuda: core/cuda (kernels, cuBLASLt, allocator, streams); glm3d_parallel_cuda: the NCCL
# communicator. Separate from glm3d_core / glm3d_parallel so the CPU binaries never load CUDA.
function(glm3d_cuda_libs)
  file(GLOB _src CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/core/cuda/*.cpp ${CMAKE_SOURCE_DIR}/core/cuda/*.cu)
  add_library(glm3d_cuda STATIC ${_src})
  target_link_libraries(glm3d_cuda PUBLIC glm3d_core CUDA::cudart CUDA::cublasLt)
  target_compile_definitions(glm3d_cuda PUBLIC GLM3D_HAVE_CUDA=1)
  target_compile_options(glm3d_cuda PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${GLM3D_WARNINGS}>
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra --expt-relaxed-constexpr>)

  add_library(glm3d_parallel_cuda STATIC ${CMAKE_SOURCE_DIR}/parallel/nccl_communicator.cpp)
  target_link_libraries(glm3d_parallel_cuda PUBLIC glm3d_parallel glm3d_cuda ${NCCL_LIBRARY})
  target_include_directories(glm3d_parallel_cuda SYSTEM PUBLIC ${NCCL_INCLUDE_DIR})
  target_compile_options(glm3d_parallel_cuda PRIVATE ${GLM3D_WARNINGS})
endfunction()
