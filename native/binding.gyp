{
  "targets": [
    {
      "target_name": "tunnel_splice",
      "sources": ["tunnel_splice.c", "low_memory.cc"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc": ["-fno-exceptions"]
    }
  ]
}
