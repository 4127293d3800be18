{
  "targets": [
    {
      "target_name": "strata_kernels",
      "sources": ["src/native/kernels.c"],
      "cflags": ["-O3", "-march=native", "-fopenmp-simd", "-std=c11"],
      "cflags_c": ["-O3", "-march=native", "-fopenmp-simd", "-std=c11"]
    }
  ]
}
