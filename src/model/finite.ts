/**
 * Finding NaN or infinity in a tensor's raw bytes (as a checkpoint stores them), by exponent bits: all ones
 * means NaN or infinity in every IEEE float format, so one integer test per element covers F64, F32, F16
 * and BF16 alike, without converting anything.
 */
import type { SafetensorsDType } from "../native";

/** Index of the first NaN/infinity in `data` read as `dtype` (little-endian), or -1; -1 for integer dtypes. */
export function firstNonFinite(dtype: SafetensorsDType, data: Uint8Array): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (dtype) {
    case "F64": {
      // The exponent sits in the high word (bytes 4..7 of each element).
      for (let i = 0, n = data.byteLength >> 3; i < n; i++) if ((view.getUint32(8 * i + 4, true) & 0x7ff00000) === 0x7ff00000) return i;
      return -1;
    }
    case "F32": {
      for (let i = 0, n = data.byteLength >> 2; i < n; i++) if ((view.getUint32(4 * i, true) & 0x7f800000) === 0x7f800000) return i;
      return -1;
    }
    case "F16": {
      for (let i = 0, n = data.byteLength >> 1; i < n; i++) if ((view.getUint16(2 * i, true) & 0x7c00) === 0x7c00) return i;
      return -1;
    }
    case "BF16": {
      for (let i = 0, n = data.byteLength >> 1; i < n; i++) if ((view.getUint16(2 * i, true) & 0x7f80) === 0x7f80) return i;
      return -1;
    }
    default:
      return -1;
  }
}
