        .globl _start
        .text
_start: mov $1, %eax
        mov $1, %edi
        lea msg(%rip), %rsi
        mov $len, %edx
        syscall
        mov $60, %eax
        xor %edi, %edi
        syscall
        .section .rodata
msg:    .ascii "hello 0.1.0 (x86_64-unknown-linux-musl)\n"
        len = . - msg
