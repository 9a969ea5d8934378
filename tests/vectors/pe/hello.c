#include <stdio.h>
int main(void){ puts("hello from windows"); return 0; }
