#include "app.h"
#include "fixtures.h"
int main(int argc, char **argv) { return server_main(argc, argv, NULL); }
