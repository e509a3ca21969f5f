{
  "targets": [
    {
      "target_name": "tunnel_splice",
      "sources": ["tunnel_splice.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
