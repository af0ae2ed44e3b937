{
  "variables": {
    # 1 when oneDNN's headers and library are installed (Debian libdnnl-dev) and BERTFIT_NO_DNNL is unset.
    # gyp turns the command's "1" into the integer 1, so conditions must compare with 1, not '1'.
    "has_dnnl%": "<!(node scripts/detect-dnnl.cjs)",
    # 1 when an MPI library with its headers is found (Debian libopenmpi-dev) and BERTFIT_NO_MPI is unset: the
    # data-parallel bindings of native/mpi_api.cc are then compiled in (without it they throw "built without MPI").
    "has_mpi%": "<!(node scripts/detect-mpi.cjs)"
  },
  "targets": [
    {
      "target_name": "bertfit_native",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/cpuinfo.cc",
        "native/gemm_api.cc",
        "native/gemm.cc",
        "native/gemm_builtin.cc",
        "native/kernels.cc",
        "native/mpi_api.cc",
        "native/philox.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17", "-std=gnu++20"],
      # -fno-trapping-math / -fno-math-errno: we never read FP exception flags or errno, and without them GCC keeps
      # the exp/erf/tanh of vecmath.h and the sqrt of Adam scalar (see vecmath.h). Values are unchanged.
      "cflags_cc": ["-std=c++17", "-O3", "-march=native", "-fopenmp", "-fexceptions", "-ffp-contract=fast",
                    "-fno-trapping-math", "-fno-math-errno"],
      "ldflags": ["-fopenmp"],
      "conditions": [
        ["has_dnnl==1", {
          "defines": ["BERTFIT_HAVE_DNNL=1"],
          "libraries": ["-ldnnl"]
        }],
        ["has_mpi==1", {
          # OMPI_SKIP_MPICXX / MPICH_SKIP_MPICXX: the C API only, not the deprecated C++ bindings (and their library)
          "defines": ["BERTFIT_HAVE_MPI=1", "OMPI_SKIP_MPICXX=1", "MPICH_SKIP_MPICXX=1"],
          "cflags_cc": ["<!@(node scripts/detect-mpi.cjs --cflags)"],
          "libraries": ["<!@(node scripts/detect-mpi.cjs --libs)", "-ldl"]
        }]
      ]
    }
  ]
}
