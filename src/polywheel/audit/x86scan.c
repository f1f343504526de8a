/* Count the instructions of x86-64 code regions by encoding, at native speed.
 *
 * polywheel's audit asks iced-x86 which CPUID features each instruction needs. iced
 * decodes each instruction into a Python object, which caps the audit at about 25 MB/s
 * of code. This file does the part that is the same for every instruction: it splits a
 * region into instructions and counts each *encoding key*, the instruction's bytes with
 * the constant parts (displacement, immediate, branch offset) left out and the bytes
 * that only name a memory operand's registers (ModRM.rm in a memory form, the SIB
 * byte) masked. polywheel/audit/native.py then decodes one instance of each new key
 * with iced, checks that iced splits it exactly as this file did (same length, the
 * constants exactly where this file put them), and takes iced's opcode for every
 * instance of the key.
 *
 * An instruction this file does not know (XOP, 3DNow!, APX, rare system opcodes,
 * prefixes in odd orders, one running past the region's end), or whose key iced splits
 * otherwise, is handed to iced through a callback, which decodes that one instruction
 * from the same bytes the region's own decoding would see and says its length and
 * opcode; the scan goes on after it. So a mistake in the tables below costs speed,
 * never a verdict. Only where the callback cannot answer does a region go to iced
 * whole ("fallback").
 *
 * The input is untrusted: every read is checked against the region's end, and
 * regions are clamped to the buffer as Python's slicing would clamp them.
 * Standard C99, no dependencies; loaded with ctypes. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SCRATCH_MAX (1u << 16)
/* Items of regions waiting for their new keys to be classified, held so that those
 * regions are not split a second time: at most this many (1 MB), then the scan
 * returns for the keys to be classified and goes on where it stopped. */
#define HELD_MAX (1u << 18)
#define CODES 8192 /* iced 1.21 has under 5,000 opcodes; larger ones are BAD */
#define RECENT 8192
#define INITIAL_KEYS (1u << 16)
#define HOLE 0x80000000u /* an item iced decoded: HOLE | noteworthy << 16 | opcode */

/* iced, asked for one instruction: its length (0: cannot), *item a HOLE item. */
typedef unsigned (*HoleFn)(const uint8_t *p, size_t avail, uint32_t *item);

enum { PENDING = 0, PLAIN = 1, NOTEWORTHY = 2, BAD = 3 };

/* Byte 0: the head's length (low 4 bits) and the tail's (high 4 bits); then the head,
 * zero-padded. An instruction is at most 15 bytes, so the head fits; and the head
 * followed by tail zero bytes is itself an instance of the key (a masked register
 * field reads as rax), which is what native.py hands to iced. */
typedef struct {
    uint64_t w[2];
} Key;

typedef struct {
    Key *keys;
    uint8_t *cls;
    uint16_t *code; /* iced's opcode of each key, once classified */
    uint32_t n_keys, cap_keys;
    /* The most recently met keys, by hash: the skewed mix of real code finds most
     * instructions here, in cache, rather than in the large table. */
    Key recent[RECENT];
    uint32_t recent_id[RECENT];
    /* Per opcode: its count in the scan, and its entry in the region being counted. */
    uint64_t count[CODES];
    uint32_t entry_of[CODES];
    uint32_t entry_region[CODES];
    uint32_t *table; /* key id + 1; 0 is empty */
    uint32_t table_mask;
    /* Results of the last scan. */
    uint32_t *touched;
    uint64_t *touched_counts;
    size_t n_touched, cap_touched, cap_touched_counts;
    uint32_t *entries; /* (region, key, count) */
    size_t n_entries, cap_entries;
    uint32_t *fallback;
    size_t n_fallback, cap_fallback;
    /* Regions with keys not yet classified, counted once they are: their items held
     * (region, count, items...), or, for a region too long to hold, the region alone,
     * split again then. */
    uint32_t *held;
    size_t n_held, cap_held;
    uint32_t *pending;
    size_t n_pending, cap_pending;
    uint32_t *revisit;
    size_t cap_revisit;
    uint32_t resume; /* the region the scan goes on from */
    /* Where each run of entries begins: each run is in region order, the runs are not. */
    uint32_t *runs;
    size_t n_runs, cap_runs;
    uint32_t *scratch;
    size_t cap_scratch;
    HoleFn hole;
    uint64_t holes_left; /* callbacks this scan may still make */
} Ctx;

/* What follows an opcode: a ModRM byte, and how many constant bytes. */
enum {
    X = 0,      /* not handled here */
    N = 1,      /* nothing */
    M = 2,      /* ModRM */
    I8 = 4,     /* 1-byte immediate */
    IZ = 8,     /* 4-byte immediate, 2 with 0x66 (and no REX.W) */
    R32 = 16,   /* 4-byte branch offset; 0x66 differs between vendors: not handled */
    I16 = 32,   /* 2-byte immediate */
    SPECIAL = 64
};

static const uint8_t ONE_BYTE[256] = {
    /* 00 */ M, M, M, M, I8, IZ, X, X, M, M, M, M, I8, IZ, X, X,
    /* 10 */ M, M, M, M, I8, IZ, X, X, M, M, M, M, I8, IZ, X, X,
    /* 20 */ M, M, M, M, I8, IZ, X, X, M, M, M, M, I8, IZ, X, X,
    /* 30 */ M, M, M, M, I8, IZ, X, X, M, M, M, M, I8, IZ, X, X,
    /* 40 */ X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
    /* 50 */ N, N, N, N, N, N, N, N, N, N, N, N, N, N, N, N,
    /* 60 */ X, X, X, M, X, X, X, X, IZ, M | IZ, I8, M | I8, N, N, N, N,
    /* 70 */ I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8, I8,
    /* 80 */ M | I8, M | IZ, X, M | I8, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 90 */ N, N, N, N, N, N, N, N, N, N, X, N, N, N, N, N,
    /* A0 */ SPECIAL, SPECIAL, SPECIAL, SPECIAL, N, N, N, N, I8, IZ, N, N, N, N, N, N,
    /* B0 */ I8, I8, I8, I8, I8, I8, I8, I8,
    /* B8 */ SPECIAL, SPECIAL, SPECIAL, SPECIAL, SPECIAL, SPECIAL, SPECIAL, SPECIAL,
    /* C0 */ M | I8, M | I8, I16, N, X, X, M | I8, M | IZ, SPECIAL, N, I16, N, N, I8, X, N,
    /* D0 */ M, M, M, M, X, X, X, N, M, M, M, M, M, M, M, M,
    /* E0 */ I8, I8, I8, I8, I8, I8, I8, I8, R32, R32, X, I8, N, N, N, N,
    /* F0 */ X, N, X, X, N, N, SPECIAL, SPECIAL, N, N, N, N, N, N, M, M,
};

static const uint8_t TWO_BYTE[256] = {
    /* 00 */ M, M, M, M, X, N, N, N, N, N, X, N, X, M, N, X,
    /* 10 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 20 */ X, X, X, X, X, X, X, X, M, M, M, M, M, M, M, M,
    /* 30 */ N, N, N, N, N, N, X, N, X, X, X, X, X, X, X, X,
    /* 40 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 50 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 60 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* 70 */ M | I8, M | I8, M | I8, M | I8, M, M, M, N, X, X, X, X, M, M, M, M,
    /* 80 */ R32, R32, R32, R32, R32, R32, R32, R32, R32, R32, R32, R32, R32, R32, R32, R32,
    /* 90 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* A0 */ N, N, N, M, M | I8, M, X, X, N, N, N, M, M | I8, M, M, M,
    /* B0 */ M, M, M, M, M, M, M, M, M, M, M | I8, M, M, M, M, M,
    /* C0 */ M, M, M | I8, M, M | I8, M | I8, M | I8, M, N, N, N, N, N, N, N, N,
    /* D0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* E0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
    /* F0 */ M, M, M, M, M, M, M, M, M, M, M, M, M, M, M, M,
};

static int is_legacy_prefix(uint8_t b) {
    return b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 || b == 0xF3 || b == 0x26 ||
           b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 || b == 0x65;
}

/* Map 0F and map 0F3A-style opcodes with an 8-bit immediate, for VEX and EVEX map 1. */
static int vex_map1_imm8(uint8_t op) {
    return (op >= 0x70 && op <= 0x73) || op == 0xC2 || op == 0xC4 || op == 0xC5 ||
           op == 0xC6;
}

/* The length of the instruction at p (at most avail bytes readable), its key filled
 * in; 0 when this file does not handle it. */
static unsigned decode(const uint8_t *p, size_t avail, Key *key) {
    uint8_t head[16];
    size_t limit = avail < 15 ? avail : 15;
    size_t i = 0;
    int opsize16 = 0, addr32 = 0, mandatory = 0, rex = 0;
    unsigned flags, tail = 0;
    /* Where the ModRM, SIB, REX and VEX/EVEX register-extension bytes are; the last
     * two are 0 when absent only if they cannot be byte 0 (xb_at) or by rex. */
    size_t modrm_at = 0, sib_at = 0, rex_at = 0, xb_at = 0;
    int has_sib = 0;

    while (i < limit && is_legacy_prefix(p[i])) {
        if (p[i] == 0x66) opsize16 = 1;
        else if (p[i] == 0x67) addr32 = 1;
        else if (p[i] != 0x2E && p[i] != 0x3E && p[i] != 0x26 && p[i] != 0x36 &&
                 p[i] != 0x64 && p[i] != 0x65) mandatory = 1;
        i++;
    }
    if (i < limit && (p[i] & 0xF0) == 0x40) {
        rex_at = i;
        rex = p[i++];
    }
    if (i >= limit) return 0;
    uint8_t op = p[i++];
    if ((op & 0xF0) == 0x40 || is_legacy_prefix(op)) return 0; /* REX not last */

    if (op == 0xC4 || op == 0xC5 || op == 0x62) {
        if (rex || opsize16 || mandatory) return 0; /* #UD; iced decides */
        unsigned map;
        if (op == 0xC5) {
            if (i + 1 >= limit) return 0;
            map = 1;
            i += 1;
        } else if (op == 0xC4) {
            if (i + 2 >= limit) return 0;
            map = p[i] & 0x1F;
            if (map < 1 || map > 3) return 0;
            xb_at = i;
            i += 2;
        } else {
            if (i + 3 >= limit) return 0;
            map = p[i] & 0x07;
            if ((p[i] & 0x08) || !(p[i + 1] & 0x04)) return 0; /* APX or reserved */
            if (map == 0 || map == 4 || map == 7) return 0;
            xb_at = i;
            i += 3;
        }
        uint8_t opcode = p[i++];
        flags = M;
        if (map == 3 || (map == 1 && vex_map1_imm8(opcode))) flags |= I8;
        if (op == 0xC5 || (op == 0xC4 && map == 1)) {
            if (opcode == 0x77) flags = N; /* vzeroupper, vzeroall */
        }
    } else if (op == 0x0F) {
        if (i >= limit) return 0;
        uint8_t op2 = p[i++];
        if (op2 == 0x38 || op2 == 0x3A) {
            if (i >= limit) return 0;
            i++;
            flags = op2 == 0x3A ? (M | I8) : M;
        } else {
            flags = TWO_BYTE[op2];
        }
    } else if (op == 0x8F) {
        if (i >= limit || (p[i] & 0x1F) >= 8) return 0; /* XOP */
        flags = M;
    } else {
        flags = ONE_BYTE[op];
    }
    if (flags == X) return 0;

    int rex_w = (rex & 0x08) != 0;
    if (flags & SPECIAL) {
        if (op >= 0xA0 && op <= 0xA3) tail = addr32 ? 4 : 8; /* moffs */
        else if (op >= 0xB8 && op <= 0xBF) tail = rex_w ? 8 : (opsize16 ? 2 : 4);
        else if (op == 0xC8) tail = 3; /* enter imm16, imm8 */
        else { /* F6, F7: test has an immediate, the rest of the group none */
            if (i >= limit) return 0;
            unsigned reg = (p[i] >> 3) & 7;
            flags = M;
            if (reg <= 1) tail = op == 0xF6 ? 1 : (opsize16 && !rex_w ? 2 : 4);
        }
        if (op != 0xF6 && op != 0xF7) flags = N;
    }
    if (flags & M) {
        if (i >= limit) return 0;
        uint8_t modrm = p[i];
        unsigned mod = modrm >> 6, rm = modrm & 7;
        modrm_at = i++;
        if (mod != 3) {
            if (rm == 4) {
                if (i >= limit) return 0;
                has_sib = 1;
                sib_at = i++;
                if (mod == 0 && (p[sib_at] & 7) == 5) tail += 4;
            } else if (mod == 0 && rm == 5) {
                tail += 4; /* RIP-relative */
            }
            if (mod == 1) tail += 1;
            else if (mod == 2) tail += 4;
        }
    }
    if (flags & I8) tail += 1;
    if (flags & I16) tail += 2;
    if (flags & IZ) tail += opsize16 && !rex_w ? 2 : 4;
    if (flags & R32) {
        if (opsize16) return 0;
        tail += 4;
    }
    if (i + tail > 15 || i + tail > avail) return 0;

    /* Mask what only names a memory operand's base register (and, in legacy
     * encodings, its index: REX.X extends only the SIB index): the same opcode
     * whichever it is. VEX and EVEX keep the index: a gather's index register must
     * differ from its other registers, or iced calls it invalid. */
    memcpy(head, p, i);
    if (rex) head[rex_at] &= (uint8_t)~0x02;
    if ((flags & M) && (head[modrm_at] >> 6) != 3) {
        uint8_t modrm = head[modrm_at];
        unsigned mod = modrm >> 6, rm = modrm & 7;
        if (rm != 4 && !(mod == 0 && rm == 5)) head[modrm_at] = (uint8_t)(modrm & 0xF8);
        if (has_sib) {
            uint8_t base = (uint8_t)(mod == 0 && (p[sib_at] & 7) == 5 ? 5 : 0);
            uint8_t index = (uint8_t)(xb_at ? p[sib_at] & 0x38 : 0);
            head[sib_at] = (uint8_t)(index | base);
        }
        if (rex) head[rex_at] &= (uint8_t)~0x01;
        if (xb_at) head[xb_at] |= (uint8_t)(has_sib ? 0x20 : 0x60); /* X, B inverted */
    }
    uint8_t *k = (uint8_t *)key->w;
    memset(key->w, 0, sizeof key->w);
    k[0] = (uint8_t)(i | tail << 4);
    memcpy(k + 1, head, i);
    return (unsigned)(i + tail);
}

static uint32_t hash_key(const Key *key) {
    uint64_t h = key->w[0] * 0x9E3779B97F4A7C15ull;
    h ^= (key->w[1] + (h >> 29)) * 0xC2B2AE3D27D4EB4Full;
    h ^= h >> 32;
    return (uint32_t)h;
}

static int grow(void **array, size_t *cap, size_t need, size_t item) {
    if (need <= *cap) return 1;
    size_t cap2 = *cap ? *cap : 1024;
    while (cap2 < need) cap2 *= 2;
    void *p = realloc(*array, cap2 * item);
    if (!p) return 0;
    *array = p;
    *cap = cap2;
    return 1;
}

static int rehash(Ctx *c, uint32_t size) {
    uint32_t *table = calloc(size, sizeof *table);
    if (!table) return 0;
    for (uint32_t id = 0; id < c->n_keys; id++) {
        uint32_t slot = hash_key(&c->keys[id]) & (size - 1);
        while (table[slot]) slot = (slot + 1) & (size - 1);
        table[slot] = id + 1;
    }
    free(c->table);
    c->table = table;
    c->table_mask = size - 1;
    return 1;
}

/* The key's id, a new one if needed (the instance's bytes kept); -1 without memory. */
static int same_key(const Key *a, const Key *b) {
    return a->w[0] == b->w[0] && a->w[1] == b->w[1];
}

static int64_t key_id(Ctx *c, const Key *key) {
    uint32_t hash = hash_key(key);
    uint32_t near = hash & (RECENT - 1);
    if (c->recent_id[near] && same_key(&c->recent[near], key)) return c->recent_id[near] - 1;
    uint32_t slot = hash & c->table_mask;
    for (;;) {
        uint32_t id1 = c->table[slot];
        if (!id1) break;
        if (same_key(&c->keys[id1 - 1], key)) {
            c->recent[near] = *key;
            c->recent_id[near] = id1;
            return id1 - 1;
        }
        slot = (slot + 1) & c->table_mask;
    }
    if (c->n_keys == c->cap_keys) {
        uint32_t cap = c->cap_keys ? c->cap_keys * 2 : 4096;
        Key *keys = realloc(c->keys, cap * sizeof *keys);
        if (keys) c->keys = keys;
        uint8_t *cls = realloc(c->cls, cap);
        if (cls) c->cls = cls;
        uint16_t *code = realloc(c->code, cap * sizeof *code);
        if (code) c->code = code;
        if (!keys || !cls || !code) return -1;
        c->cap_keys = cap;
    }
    uint32_t id = c->n_keys++;
    c->keys[id] = *key;
    c->cls[id] = PENDING;
    c->code[id] = 0;
    c->table[slot] = id + 1;
    if ((uint64_t)c->n_keys * 4 > (uint64_t)(c->table_mask + 1) * 3) {
        if (!rehash(c, (c->table_mask + 1) * 2)) return -1;
    }
    return id;
}

void pw_free(Ctx *c);

Ctx *pw_new(void) {
    Ctx *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    /* Room for the keys most files need at once, reserved but not touched (calloc'd
     * pages cost nothing until written), so that growing never copies. */
    c->cap_keys = INITIAL_KEYS;
    c->keys = calloc(INITIAL_KEYS, sizeof *c->keys);
    c->cls = calloc(INITIAL_KEYS, 1);
    c->code = calloc(INITIAL_KEYS, sizeof *c->code);
    if (!c->keys || !c->cls || !c->code || !rehash(c, 2 * INITIAL_KEYS)) {
        pw_free(c);
        return NULL;
    }
    for (size_t j = 0; j < CODES; j++) c->entry_region[j] = UINT32_MAX;
    return c;
}

void pw_free(Ctx *c) {
    if (!c) return;
    free(c->keys);
    free(c->cls);
    free(c->code);
    free(c->table);
    free(c->touched);
    free(c->touched_counts);
    free(c->entries);
    free(c->fallback);
    free(c->held);
    free(c->pending);
    free(c->revisit);
    free(c->runs);
    free(c->scratch);
    free(c);
}

uint32_t pw_n_keys(const Ctx *c) { return c->n_keys; }
/* The keys from `first` on, 16 bytes each: what native.py classifies. */
const uint8_t *pw_keys(const Ctx *c, uint32_t first) {
    return first < c->n_keys ? (const uint8_t *)c->keys[first].w : NULL;
}
/* The classes and codes of keys first .. first+count-1, as Python learnt them. */
void pw_set_classes(Ctx *c, uint32_t first, uint32_t count, const uint8_t *cls,
                    const uint16_t *code) {
    for (uint32_t i = 0; i < count && first + i < c->n_keys; i++) {
        uint8_t k = cls[i] <= BAD ? cls[i] : BAD;
        c->cls[first + i] = code[i] < CODES ? k : BAD;
        c->code[first + i] = code[i] < CODES ? code[i] : 0;
    }
}
size_t pw_touched(const Ctx *c, const uint32_t **ids, const uint64_t **counts) {
    *ids = c->touched;
    *counts = c->touched_counts;
    return c->n_touched;
}
size_t pw_entries(const Ctx *c, const uint32_t **triples) {
    *triples = c->entries;
    return c->n_entries;
}
size_t pw_runs(const Ctx *c, const uint32_t **starts) {
    *starts = c->runs;
    return c->n_runs;
}
size_t pw_fallback(const Ctx *c, const uint32_t **regions) {
    *regions = c->fallback;
    return c->n_fallback;
}

/* One instruction at p: its length (0: the region goes to iced whole, -2: no memory),
 * and in *item its key's id, or what iced said of it (a HOLE item) where this file
 * does not know it or iced splits its key otherwise. */
static int64_t step(Ctx *c, const uint8_t *p, size_t avail, uint32_t *item, int *pending) {
    Key key;
    unsigned len = decode(p, avail, &key);
    if (len) {
        int64_t id = key_id(c, &key);
        if (id < 0) return -2;
        if (c->cls[id] == PENDING) *pending = 1;
        if (c->cls[id] != BAD) {
            *item = (uint32_t)id;
            return len;
        }
    }
    if (!c->hole || !c->holes_left) return 0; /* past the budget: the region goes to iced */
    c->holes_left--;
    len = c->hole(p, avail, item);
    if (len > avail || !(*item & HOLE) || (*item & 0xFFFF) >= CODES) return 0;
    return len;
}

/* Every instruction of [p, p + size): its item into items (when not NULL, up to cap;
 * -3 beyond), *pending set if a key is not classified yet. Returns the count, -1 when
 * the region goes to iced whole, -2 without memory. */
static int64_t split(Ctx *c, const uint8_t *p, size_t size, uint32_t *items, size_t cap,
                     int *pending) {
    size_t pos = 0;
    int64_t n = 0;
    uint32_t item;
    while (pos < size) {
        int64_t len = step(c, p + pos, size - pos, &item, pending);
        if (len <= 0) return len ? len : -1;
        if (items) {
            if ((size_t)n >= cap) return -3;
            items[n] = item;
        }
        n++;
        pos += (size_t)len;
    }
    return n;
}

static int count_one(Ctx *c, uint32_t region, uint32_t item) {
    int hole = (item & HOLE) != 0;
    uint16_t id = hole ? (uint16_t)(item & 0xFFFF) : c->code[item];
    int noteworthy = hole ? (item >> 16 & 1) : c->cls[item] == NOTEWORTHY;
    if (!c->count[id]++) {
        if (!grow((void **)&c->touched, &c->cap_touched, c->n_touched + 1, sizeof(uint32_t)))
            return 0;
        c->touched[c->n_touched++] = id;
    }
    if (noteworthy) {
        if (c->entry_region[id] != region) {
            if (!grow((void **)&c->entries, &c->cap_entries, c->n_entries + 3, sizeof(uint32_t)))
                return 0;
            c->entry_region[id] = region;
            c->entry_of[id] = (uint32_t)c->n_entries;
            c->entries[c->n_entries++] = region;
            c->entries[c->n_entries++] = id;
            c->entries[c->n_entries++] = 0;
        }
        c->entries[c->entry_of[id] + 2]++;
    }
    return 1;
}

static int append(uint32_t **array, size_t *n, size_t *cap, uint32_t value) {
    if (!grow((void **)array, cap, *n + 1, sizeof(uint32_t))) return 0;
    (*array)[(*n)++] = value;
    return 1;
}

/* Count region r, or set it aside (held, pending, fallback). 0; 1 when it must wait
 * until the held regions' keys are classified; -1 without memory. */
static int scan_region(Ctx *c, const uint8_t *data, uint64_t data_len, const uint64_t *regions,
                       uint32_t r) {
    uint64_t offset = regions[2 * (size_t)r], size = regions[2 * (size_t)r + 1];
    if (offset > data_len) offset = data_len;
    if (size > data_len - offset) size = data_len - offset;
    const uint8_t *p = data + offset;
    /* Instructions average about 4 bytes; a region of shorter ones is split twice. */
    size_t want = (size_t)(size / 2 < SCRATCH_MAX ? size / 2 + 16 : SCRATCH_MAX);
    if (!grow((void **)&c->scratch, &c->cap_scratch, want, sizeof(uint32_t)))
        return -1;
    int pending = 0;
    int64_t n = split(c, p, (size_t)size, c->scratch, c->cap_scratch, &pending);
    int stored = n != -3;
    if (!stored) n = split(c, p, (size_t)size, NULL, 0, &pending); /* too long: check first */
    if (n == -2) return -1;
    if (n == -1) return append(&c->fallback, &c->n_fallback, &c->cap_fallback, r) ? 0 : -1;
    if (pending && stored && (size_t)n + 2 <= HELD_MAX) {
        if (c->n_held + (size_t)n + 2 > HELD_MAX) return 1; /* classify the keys first */
        if (!grow((void **)&c->held, &c->cap_held, c->n_held + (size_t)n + 2, sizeof(uint32_t)))
            return -1;
        c->held[c->n_held++] = r;
        c->held[c->n_held++] = (uint32_t)n;
        memcpy(c->held + c->n_held, c->scratch, (size_t)n * sizeof(uint32_t));
        c->n_held += (size_t)n;
        return 0;
    }
    if (pending) return append(&c->pending, &c->n_pending, &c->cap_pending, r) ? 0 : -1;
    if (stored) {
        for (int64_t j = 0; j < n; j++)
            if (!count_one(c, r, c->scratch[j])) return -1;
        return 0;
    }
    size_t pos = 0;
    uint32_t item;
    while (pos < size) {
        int64_t len = step(c, p + pos, (size_t)size - pos, &item, &pending);
        if (len <= 0 || !count_one(c, r, item)) return -1; /* the same steps as checked */
        pos += (size_t)len;
    }
    return 0;
}

/* Count the instructions of each region (pairs of file offset and size) of data by
 * opcode, calling `hole` at most `max_holes` times in the whole scan (each call costs
 * what iced takes for tens of instructions: beyond that, a region with an instruction
 * left to iced goes to iced whole, and the scan costs no more than iced would).
 * Returns 0 when done; 1 when regions wait for new keys to be classified (classify
 * them, then call again with `again` set: the waiting regions are counted and the scan
 * goes on where it stopped); -1 without memory. Results: pw_touched (opcodes and their
 * counts), pw_entries (region, opcode, count of the noteworthy opcodes) in the runs
 * pw_runs tells, pw_fallback (regions for iced). */
int pw_scan(Ctx *c, const uint8_t *data, uint64_t data_len, const uint64_t *regions,
            uint32_t n_regions, int again, HoleFn hole, uint64_t max_holes) {
    c->hole = hole;
    if (again) {
        /* The held regions' keys are classified now: count their items. */
        if (!append(&c->runs, &c->n_runs, &c->cap_runs, (uint32_t)c->n_entries)) return -1;
        for (size_t j = 0; j < c->n_held;) {
            uint32_t r = c->held[j], n = c->held[j + 1];
            const uint32_t *items = c->held + j + 2;
            int known = 1;
            for (uint32_t k = 0; k < n && known; k++)
                known = (items[k] & HOLE) || (items[k] < c->n_keys && c->cls[items[k]] != PENDING
                                              && c->cls[items[k]] != BAD);
            if (known) {
                for (uint32_t k = 0; k < n; k++)
                    if (!count_one(c, r, items[k])) return -1;
            } else if (!append(&c->pending, &c->n_pending, &c->cap_pending, r)) {
                return -1; /* a key iced splits otherwise: split again, with iced's help */
            }
            j += 2 + (size_t)n;
        }
        c->n_held = 0;
        size_t n = c->n_pending;
        if (!grow((void **)&c->revisit, &c->cap_revisit, n, sizeof(uint32_t))) return -1;
        if (n) memcpy(c->revisit, c->pending, n * sizeof(uint32_t));
        c->n_pending = 0;
        if (!append(&c->runs, &c->n_runs, &c->cap_runs, (uint32_t)c->n_entries)) return -1;
        for (size_t j = 0; j < n; j++)
            if (c->revisit[j] < n_regions &&
                scan_region(c, data, data_len, regions, c->revisit[j]) != 0)
                return -1; /* its keys are all known: it cannot wait */
    } else {
        for (size_t j = 0; j < c->n_touched; j++) c->count[c->touched[j]] = 0;
        for (size_t j = 0; j < c->n_entries; j += 3)
            c->entry_region[c->entries[j + 1]] = UINT32_MAX;
        c->n_touched = c->n_entries = c->n_fallback = c->n_pending = c->n_held = 0;
        c->n_runs = 0;
        c->resume = 0;
        c->holes_left = max_holes; /* for the whole scan, however many calls it takes */
    }
    if (!append(&c->runs, &c->n_runs, &c->cap_runs, (uint32_t)c->n_entries)) return -1;
    for (; c->resume < n_regions; c->resume++) {
        int status = scan_region(c, data, data_len, regions, c->resume);
        if (status < 0) return -1;
        if (status > 0) break; /* the held items fill the room: classify, come back */
    }
    if (!grow((void **)&c->touched_counts, &c->cap_touched_counts, c->n_touched,
              sizeof(uint64_t)))
        return -1;
    for (size_t j = 0; j < c->n_touched; j++) c->touched_counts[j] = c->count[c->touched[j]];
    return c->n_pending || c->n_held ? 1 : 0;
}
