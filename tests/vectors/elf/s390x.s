        .globl _start
        .text
_start: lghi %r2, 1
        larl %r3, msg
        lghi %r4, msgend - msg
        svc 4
        lghi %r2, 0
        svc 1
msg:    .ascii "hello 0.1.0 (s390x-unknown-linux-musl)\n"
msgend:
