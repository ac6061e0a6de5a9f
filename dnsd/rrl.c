/* rrl.c - stub, being written. */
typedef int stub_unused_t;
