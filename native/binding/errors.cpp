#include "binding/errors.h"

#include <c10/util/Exception.h>

namespace sdpo {

Napi::Error makeJsError(Napi::Env env, std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Napi::Error& e) {
    return e;
  } catch (const TypeError& e) {
    return Napi::TypeError::New(env, e.what());
  } catch (const RangeError& e) {
    return Napi::RangeError::New(env, e.what());
  } catch (const c10::Error& e) {
    // The backtrace is for libtorch developers; users get the message.
    return Napi::Error::New(env, std::string("libtorch: ") + e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    return Napi::Error::New(env, "out of memory");
  } catch (const std::exception& e) {
    return Napi::Error::New(env, e.what());
  } catch (...) {
    return Napi::Error::New(env, "unknown native exception");
  }
}

}  // namespace sdpo
