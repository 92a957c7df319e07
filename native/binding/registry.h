// Each binding file registers its own exports, so adding a binding touches one file only.
//
//   static void initOps(Napi::Env env, Napi::Object exports) { exports.Set(...); }
//   SDPO_REGISTER_BINDING(ops, initOps);
#pragma once
#include <napi.h>

namespace sdpo {

using BindingInit = void (*)(Napi::Env env, Napi::Object exports);

struct BindingRegistrar {
  BindingRegistrar(const char* name, BindingInit init);
};

// Called once from the module's Init: runs every registered BindingInit.
void initAllBindings(Napi::Env env, Napi::Object exports);

}  // namespace sdpo

#define SDPO_REGISTER_BINDING(name, fn) \
  static ::sdpo::BindingRegistrar sdpo_binding_registrar_##name(#name, fn)
