int puts(const char*); void* iconv_open(const char*, const char*);
int main(void){ iconv_open("a","b"); puts("hello"); return 0; }
