int puts(const char*);
int main(void){ puts("hello from darwin"); return 0; }
