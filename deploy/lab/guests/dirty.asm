; A guest that keeps dirtying its memory, for migration tests: in 32-bit protected mode it
; increments one dword in every 4 KiB page of [1 MiB, 1 MiB + DIRTY_MIB MiB), round after
; round (burning one vCPU). With a migration bandwidth cap below its dirty rate, a live
; migration never converges. Built by deploy/lab/lab.sh: nasm -f bin -DDIRTY_MIB=N.
bits 16
org 0x7c00
start:
  cli
  xor ax, ax
  mov ds, ax
  lgdt [gdt_desc]
  mov eax, cr0
  or eax, 1
  mov cr0, eax
  jmp 0x08:protected

bits 32
protected:
  mov ax, 0x10
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov esp, 0x7c00
round:
  mov ebx, 0x100000
page:
  inc dword [ebx]
  add ebx, 4096
  cmp ebx, 0x100000 + DIRTY_MIB * 1024 * 1024
  jb page
  jmp round

align 8
gdt:
  dq 0                      ; null
  dq 0x00CF9A000000FFFF     ; 0x08: code, flat 4 GiB
  dq 0x00CF92000000FFFF     ; 0x10: data, flat 4 GiB
gdt_desc:
  dw gdt_desc - gdt - 1
  dd gdt

times 510 - ($ - $$) db 0
dw 0xAA55
