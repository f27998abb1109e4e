/* bare_desc.c - descriptors of the primitive types, and checks of values built in C. */
#include "bare.h"

#define PRIM_DESC(id, kind_, name_, ctype)                                                         \
    const bare_type_desc_t bare_desc_##id = {.kind = kind_, .name = name_, .c_size = sizeof(ctype)};

PRIM_DESC(uint, BARE_KIND_UINT, "uint", uint64_t)
PRIM_DESC(int, BARE_KIND_INT, "int", int64_t)
PRIM_DESC(u8, BARE_KIND_U8, "u8", uint8_t)
PRIM_DESC(u16, BARE_KIND_U16, "u16", uint16_t)
PRIM_DESC(u32, BARE_KIND_U32, "u32", uint32_t)
PRIM_DESC(u64, BARE_KIND_U64, "u64", uint64_t)
PRIM_DESC(i8, BARE_KIND_I8, "i8", int8_t)
PRIM_DESC(i16, BARE_KIND_I16, "i16", int16_t)
PRIM_DESC(i32, BARE_KIND_I32, "i32", int32_t)
PRIM_DESC(i64, BARE_KIND_I64, "i64", int64_t)
PRIM_DESC(f32, BARE_KIND_F32, "f32", float)
PRIM_DESC(f64, BARE_KIND_F64, "f64", double)
PRIM_DESC(bool, BARE_KIND_BOOL, "bool", bool)
PRIM_DESC(str, BARE_KIND_STR, "str", bare_str_t)
PRIM_DESC(data, BARE_KIND_DATA, "data", bare_bytes_t)

int bare_check_str(bare_error_t *e, bare_str_t s)
{
    if (s.len && !s.ptr)
        return bare_error_set(e, BARE_E_NULL_POINTER, 0);
    if (!bare_utf8_valid(s.ptr, s.len))
        return bare_error_set(e, BARE_E_UTF8, 0);
    return BARE_OK;
}

int bare_check_data(bare_error_t *e, bare_bytes_t d)
{
    if (d.len && !d.ptr)
        return bare_error_set(e, BARE_E_NULL_POINTER, 0);
    return BARE_OK;
}
