{
  "targets": [
    {
      "target_name": "softmax_dpo",
      "sources": ["<!@(node native/tools/sources.js)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native",
        "<!@(node native/tools/torch-paths.js include)"
      ],
      "libraries": ["<!@(node native/tools/torch-paths.js libs)"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "SDPO_TORCH_SOURCE=\"node-gyp\"",
        "_GLIBCXX_USE_CXX11_ABI=1"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-Wno-unused-parameter", "-Wno-sign-compare"]
    }
  ]
}
