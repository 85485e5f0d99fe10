#ifndef FERRY_CSODIUM_SHIM_H
#define FERRY_CSODIUM_SHIM_H
#include <sodium.h>
#endif
