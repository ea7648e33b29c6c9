/* vm-sv39.S - Sv39 paging (3 levels); see vm-body.h. */
#define VM_LEVELS 3
#define VM_MODE 8
#define HIGH_VA 0x0000003f80123000
#define NEG_VA 0xffffffc000456000
#define NONCANON_VA 0x0000004000000000
#include "vm-body.h"
