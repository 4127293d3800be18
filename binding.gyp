{
  "targets": [
    {
      "target_name": "strata_kernels",
      "sources": [
        "src/native/kernels.c"
      ],
      "cflags": [
        "-O3",
        "-march=native",
        "-fopenmp-simd",
        "-std=c11"
      ],
      "cflags_c": [
        "-O3",
        "-march=native",
        "-fopenmp-simd",
        "-std=c11"
      ]
    },
    {
      "target_name": "strata_files",
      "sources": [
        "src/native/files.c"
      ],
      "cflags_c": [
        "-O2",
        "-std=gnu11"
      ]
    }
  ]
}
