OUT/expect.bare.h OUT/expect.bare.c: schema.bare
