//! Small enums of the ABI: argument directions, data types, core types.

/// Direction of a ChipCallable signature entry (`int32_t` in C).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgDirection {
    /// A scalar argument.
    Scalar = 0,
    /// Read by the device: copied in, never copied back.
    In = 1,
    /// Written by the device: zero-filled on the device, copied back.
    Out = 2,
    /// Read and written: copied in and back.
    Inout = 3,
}

impl ArgDirection {
    /// Decodes a raw value, `None` if out of range.
    pub fn from_i32(v: i32) -> Option<ArgDirection> {
        match v {
            0 => Some(ArgDirection::Scalar),
            1 => Some(ArgDirection::In),
            2 => Some(ArgDirection::Out),
            3 => Some(ArgDirection::Inout),
            _ => None,
        }
    }
}

/// Element type of a tensor (`uint8_t` in C).
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataType {
    /// 32-bit float.
    Float32 = 0,
    /// 16-bit float.
    Float16 = 1,
    /// 32-bit signed integer.
    Int32 = 2,
    /// 16-bit signed integer.
    Int16 = 3,
    /// 8-bit signed integer.
    Int8 = 4,
    /// 8-bit unsigned integer.
    Uint8 = 5,
    /// bfloat16.
    Bfloat16 = 6,
    /// 64-bit signed integer.
    Int64 = 7,
    /// 64-bit unsigned integer.
    Uint64 = 8,
    /// 16-bit unsigned integer.
    Uint16 = 9,
    /// 32-bit unsigned integer.
    Uint32 = 10,
    /// Boolean (1 byte).
    Bool = 11,
}

impl DataType {
    /// Decodes a raw dtype byte, `None` if out of range.
    pub fn from_u8(v: u8) -> Option<DataType> {
        use DataType::*;
        Some(match v {
            0 => Float32,
            1 => Float16,
            2 => Int32,
            3 => Int16,
            4 => Int8,
            5 => Uint8,
            6 => Bfloat16,
            7 => Int64,
            8 => Uint64,
            9 => Uint16,
            10 => Uint32,
            11 => Bool,
            _ => return None,
        })
    }

    /// Size of one element in bytes.
    pub fn elem_size(self) -> usize {
        use DataType::*;
        match self {
            Float32 | Int32 | Uint32 => 4,
            Float16 | Int16 | Bfloat16 | Uint16 => 2,
            Int8 | Uint8 | Bool => 1,
            Int64 | Uint64 => 8,
        }
    }
}

/// Element size of a raw dtype byte; 0 for an unknown dtype.
pub fn elem_size_of_raw(dtype: u8) -> usize {
    DataType::from_u8(dtype).map_or(0, DataType::elem_size)
}

/// Simulated core type (`int32_t` in C).
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoreType {
    /// Cube core.
    Aic = 0,
    /// Vector core.
    Aiv = 1,
}
