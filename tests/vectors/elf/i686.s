        .globl _start
        .text
_start: mov $4, %eax
        mov $1, %ebx
        mov $msg, %ecx
        mov $len, %edx
        int $0x80
        mov $1, %eax
        xor %ebx, %ebx
        int $0x80
        .section .rodata
msg:    .ascii "hello 0.1.0 (i686-unknown-linux-musl)\n"
        len = . - msg
