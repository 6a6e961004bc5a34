{
  "targets": [
    {
      "target_name": "specopt",
      "sources": [
        "native/addon.cpp",
        "native/backend.cpp",
        "native/common.cpp",
        "native/eigh.cpp",
        "native/inverse_root.cpp",
        "native/job.cpp",
        "native/kernels.cpp",
        "native/matmul.cpp",
        "native/power_iteration.cpp",
        "native/optimizer.cpp",
        "native/orthogonalize.cpp",
        "native/qr.cpp",
        "native/rules/adafactor.cpp",
        "native/rules/adagrad_full.cpp",
        "native/rules/adam_mini.cpp",
        "native/rules/first_order.cpp",
        "native/rules/galore.cpp",
        "native/rules/lamb.cpp",
        "native/rules/lion_ademamix.cpp",
        "native/rules/muon.cpp",
        "native/rules/prodigy.cpp",
        "native/rules/schedule_free.cpp",
        "native/rules/shampoo.cpp",
        "native/rules/soap.cpp",
        "native/rules/sphere_sgd.cpp",
        "native/svd.cpp",
        "native/truncated_svd.cpp"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(pkg-config --cflags-only-I openblas lapacke | sed 's/-I//g')"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-fvisibility=hidden", "-fexceptions", "-fopenmp"],
      "ldflags": ["-fopenmp"],
      "libraries": ["<!@(pkg-config --libs openblas lapacke)"]
    }
  ],
  "variables": {
    "specopt_mpi%": "<!(pkg-config --exists mpi-c && echo 1 || echo 0)"
  },
  "conditions": [
    ["specopt_mpi==1", {
      "targets": [
        {
          "target_name": "specopt_mpi",
          "product_dir": "<(PRODUCT_DIR)/mpi",
          "sources": [
            "native/mpi/addon.cpp",
            "native/mpi/collectives.cpp",
            "native/mpi/world.cpp",
            "native/job.cpp",
            "native/common.cpp"
          ],
          "include_dirs": [
            "<!(node -p \"require('node-addon-api').include_dir\")",
            "<!@(pkg-config --cflags-only-I mpi-c | sed 's/-I//g')"
          ],
          "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS", "OMPI_SKIP_MPICXX", "MPICH_SKIP_MPICXX"],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
          "cflags_cc": ["-std=c++17", "-O3", "-fvisibility=hidden", "-fexceptions"],
          "libraries": ["<!@(pkg-config --libs mpi-c)", "-ldl"]
        }
      ]
    }]
  ]
}
