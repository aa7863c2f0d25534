/*
 * sscard.c - a small reader library implementing the unified reader interface (统一读卡接口)
 * over libpcsclite, as a vendor's SSCardDriver would: the `lib:` adapter certifies it through
 * ctypes, and conformance/native/build.py compiles it.
 *
 * Functions (profiles/national/reader_api.yaml; ssc-card.md "More facts" §3):
 *   long iReadCardBas(int iType, char *pOutInfo)           no HSM: a 3rd-generation card's
 *                                                           社会保障号码, 卡号, 姓名 stay empty
 *   long iVerifyPIN(int iType, char *pOutInfo)              the PIN pad is modelled: pOutInfo
 *                                                           holds the typed digits on entry
 *   long iVerifyPin(int iType, char *pPin, char *pOutInfo)  the vendor form [V S9]
 * The HSM steps are not implemented (the library does not declare `hsm`).
 *
 * APDUs: the same as simulator/devices/reader_api.py (ssc-card.md §1): SELECT the SSSE by AID,
 * READ RECORD EF05 by SFI 5 and record number (00 B2 n 2C 00), EF06 by SFI 6 and tag
 * (00 B2 tag 30 00), VERIFY 00 20 00 00 Lc BCD-PIN.
 * Return codes: the profile's table and conditions; other status words as -(SW) [V S1].
 *
 * The reader: $YKT_SSCARD_READER, or the first reader pcscd lists.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winscard.h>

#define OUT_SIZE 1024
#define NO_PSAM "000000000000"
#define DEVICE_NUMBER "YKTLIB000001"

/* conditions of profiles/national/reader_api.yaml */
#define OK 0
#define E_NO_SSSE (-1)
#define E_NO_CARD (-2)
#define E_CARD_MUTE (-4)
#define E_READER (-11)
#define E_BAD_ITYPE (-14)
#define E_CARD_ID (-20)
#define E_PIN_LENGTH (-33)
#define E_PIN_CHARS (-41)
#define E_PIN_WRONG (-51)
#define E_PIN_BLOCKED (-52)

static const unsigned char SSSE_AID[] = {0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E, 0xC9,
                                         0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF};

typedef struct {
    SCARDCONTEXT context;
    SCARDHANDLE card;
    const SCARD_IO_REQUEST *pci;
    int has_context, has_card;
    unsigned char atr[MAX_ATR_SIZE];
    DWORD atr_len;
} session;

static long from_pcsc(LONG rv) {
    switch (rv) {
    case SCARD_E_NO_SMARTCARD:
    case SCARD_W_REMOVED_CARD:
        return E_NO_CARD;
    case SCARD_W_UNRESPONSIVE_CARD:
    case SCARD_W_UNPOWERED_CARD:
    case SCARD_E_NOT_TRANSACTED:
        return E_CARD_MUTE;
    default:
        return E_READER;
    }
}

static void close_session(session *s) {
    if (s->has_card)
        SCardDisconnect(s->card, SCARD_UNPOWER_CARD);
    if (s->has_context)
        SCardReleaseContext(s->context);
    s->has_card = s->has_context = 0;
}

static long open_session(int iType, session *s) {
    char readers[4096];
    DWORD size = sizeof readers, protocol = 0, state = 0, name_len = 0;
    const char *reader = getenv("YKT_SSCARD_READER");
    LONG rv;

    memset(s, 0, sizeof *s);
    if (iType < 1 || iType > 4)
        return E_BAD_ITYPE;
    rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &s->context);
    if (rv != SCARD_S_SUCCESS)
        return E_READER;
    s->has_context = 1;
    if (reader == NULL || !*reader) {
        rv = SCardListReaders(s->context, NULL, readers, &size);
        if (rv != SCARD_S_SUCCESS || !readers[0]) {
            close_session(s);
            return E_READER;
        }
        reader = readers;
    }
    /* One slot serves every iType: the virtual reader has a single (dual-interface) slot. */
    rv = SCardConnect(s->context, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &s->card,
                      &protocol);
    if (rv != SCARD_S_SUCCESS) {
        close_session(s);
        return from_pcsc(rv);
    }
    s->has_card = 1;
    s->pci = protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
    s->atr_len = sizeof s->atr;
    rv = SCardStatus(s->card, NULL, &name_len, &state, &protocol, s->atr, &s->atr_len);
    if (rv != SCARD_S_SUCCESS) {
        close_session(s);
        return from_pcsc(rv);
    }
    return OK;
}

/* One exchange; GET RESPONSE after 61xx, resend with the right Le after 6Cxx. */
static long transmit(session *s, const unsigned char *cmd, DWORD len, unsigned char *resp, DWORD *resp_len,
                     unsigned *sw) {
    unsigned char again[261];
    DWORD got = *resp_len;
    LONG rv = SCardTransmit(s->card, s->pci, cmd, len, NULL, resp, &got);
    if (rv != SCARD_S_SUCCESS)
        return from_pcsc(rv) == E_NO_CARD ? E_NO_CARD : E_CARD_MUTE;
    if (got < 2)
        return E_CARD_MUTE;
    *sw = (resp[got - 2] << 8) | resp[got - 1];
    if ((*sw >> 8) == 0x6C && len >= 5 && len <= sizeof again) {
        memcpy(again, cmd, len);
        again[len - 1] = *sw & 0xFF; /* Le is the last byte of a case 2/4 short APDU */
        return transmit(s, again, len, resp, resp_len, sw);
    }
    if ((*sw >> 8) == 0x61) {
        unsigned char get[5] = {0x00, 0xC0, 0x00, 0x00, (unsigned char)(*sw & 0xFF)};
        return transmit(s, get, 5, resp, resp_len, sw);
    }
    *resp_len = got - 2;
    return OK;
}

static long select_ssse(session *s) {
    unsigned char cmd[5 + sizeof SSSE_AID + 1], resp[258];
    DWORD n = sizeof resp;
    unsigned sw = 0;
    long rc;

    cmd[0] = 0x00, cmd[1] = 0xA4, cmd[2] = 0x04, cmd[3] = 0x00, cmd[4] = sizeof SSSE_AID;
    memcpy(cmd + 5, SSSE_AID, sizeof SSSE_AID);
    cmd[sizeof cmd - 1] = 0x00;
    rc = transmit(s, cmd, sizeof cmd, resp, &n, &sw);
    if (rc != OK)
        return rc;
    if (sw == 0x9000)
        return OK;
    if (sw == 0x6A82)
        return E_NO_SSSE;
    return -(long)sw; /* e.g. 6283, a locked application: the -(SW) rule */
}

/* READ RECORD (p1, p2); the value of a tag-`tag` record into value/value_len. *sw_out gets the SW. */
static long read_record(session *s, unsigned char p1, unsigned char p2, unsigned char tag, unsigned char *value,
                        DWORD *value_len, unsigned *sw_out) {
    unsigned char cmd[5] = {0x00, 0xB2, p1, p2, 0x00}, resp[258];
    DWORD n = sizeof resp;
    long rc = transmit(s, cmd, 5, resp, &n, sw_out);
    if (rc != OK)
        return rc;
    *value_len = 0;
    if (*sw_out != 0x9000)
        return OK;
    if (n < 2 || resp[0] != tag || resp[1] != n - 2) {
        *sw_out = 0; /* malformed record */
        return OK;
    }
    memcpy(value, resp + 2, n - 2);
    *value_len = n - 2;
    return OK;
}

static void hex(const unsigned char *data, DWORD n, char *text) {
    static const char digits[] = "0123456789ABCDEF";
    for (DWORD i = 0; i < n; i++) {
        text[2 * i] = digits[data[i] >> 4];
        text[2 * i + 1] = digits[data[i] & 0x0F];
    }
    text[2 * n] = '\0';
}

/* Text of an ASCII or GBK element: trailing NULs and spaces removed. */
static void text_of(const unsigned char *value, DWORD n, char *text) {
    while (n > 0 && (value[n - 1] == 0x00 || value[n - 1] == ' '))
        n--;
    memcpy(text, value, n);
    text[n] = '\0';
}

/* ISO/IEC 7816-3: the historical bytes of the ATR as hex. */
static void historical_hex(const unsigned char *atr, DWORD n, char *text) {
    DWORD at = 2, count;
    unsigned y;
    text[0] = '\0';
    if (n < 2)
        return;
    count = atr[1] & 0x0F;
    y = atr[1] >> 4;
    for (;;) {
        at += (y & 1) + ((y >> 1) & 1) + ((y >> 2) & 1);
        if (!(y & 8))
            break;
        if (at >= n)
            return;
        y = atr[at] >> 4;
        at++;
    }
    if (at + count <= n)
        hex(atr + at, count, text);
}

/* An EF05 element by record number, required: a failing SW ends the read with -(SW). */
static long ef05(session *s, unsigned char record, unsigned char *value, DWORD *len) {
    unsigned sw = 0;
    long rc = read_record(s, record, (5 << 3) | 4, record, value, len, &sw);
    if (rc != OK)
        return rc;
    if (sw != 0x9000 && sw != 0)
        return -(long)sw;
    return OK;
}

/* An optional element (EF05 by number, EF06 by tag): empty text when the card refuses it. */
static long optional(session *s, unsigned char p1, unsigned char p2, unsigned char tag, char *text) {
    unsigned char value[256];
    DWORD len = 0;
    unsigned sw = 0;
    long rc = read_record(s, p1, p2, tag, value, &len, &sw);
    text[0] = '\0';
    if (rc != OK)
        return rc;
    if (sw == 0x9000)
        text_of(value, len, text);
    return OK;
}

long iReadCardBas(int iType, char *pOutInfo) {
    session s;
    unsigned char ident[256], version[256], issued[256], expires[256];
    DWORD ident_len = 0, version_len = 0, issued_len = 0, expires_len = 0;
    char ident_hex[513], historical[64], version_text[257], issued_hex[513], expires_hex[513];
    char citizen[257] = "", number[257] = "", name[257] = "", name_ext[257] = "", full_name[514];
    long rc;

    if (pOutInfo == NULL)
        return E_BAD_ITYPE;
    pOutInfo[0] = '\0';
    rc = open_session(iType, &s);
    if (rc != OK)
        return rc;
    rc = select_ssse(&s);
    if (rc == OK)
        rc = ef05(&s, 1, ident, &ident_len);
    if (rc == OK && ident_len != 16)
        rc = E_CARD_ID;
    if (rc == OK)
        rc = ef05(&s, 3, version, &version_len);
    if (rc == OK)
        rc = ef05(&s, 5, issued, &issued_len);
    if (rc == OK)
        rc = ef05(&s, 6, expires, &expires_len);
    text_of(version, version_len, version_text);
    if (rc == OK && version_text[0] != '3') {
        /* 1st/2nd generation: 卡号 and what EF06 gives without authentication */
        rc = optional(&s, 7, (5 << 3) | 4, 0x07, number);
        if (rc == OK)
            rc = optional(&s, 0x08, (6 << 3), 0x08, citizen);
        if (rc == OK)
            rc = optional(&s, 0x09, (6 << 3), 0x09, name);
        if (rc == OK)
            rc = optional(&s, 0x4E, (6 << 3), 0x4E, name_ext);
    }
    historical_hex(s.atr, s.atr_len, historical);
    close_session(&s);
    if (rc != OK)
        return rc;
    hex(ident, ident_len, ident_hex);
    hex(issued, issued_len, issued_hex);
    hex(expires, expires_len, expires_hex);
    snprintf(full_name, sizeof full_name, "%s%s", name, name_ext);
    /* Precisions bound each field to its element's size on the card (national/ssse elements);
       卡号: the reader returns its first 9 characters [V S1]. */
    snprintf(pOutInfo, OUT_SIZE, "%.6s|%.18s|%.9s|%.32s|%.50s|%.30s|%.4s|%.8s|%.8s|%s|%s|", ident_hex, citizen,
             number, ident_hex, full_name, historical, version_text, issued_hex, expires_hex, NO_PSAM, DEVICE_NUMBER);
    return OK;
}

long iVerifyPin(int iType, char *pPin, char *pOutInfo) {
    session s;
    unsigned char cmd[5 + 8], resp[258];
    DWORD n = sizeof resp, digits;
    unsigned sw = 0;
    long rc;

    if (pOutInfo == NULL || pPin == NULL)
        return E_BAD_ITYPE;
    if (iType < 1 || iType > 4) {
        pOutInfo[0] = '\0';
        return E_BAD_ITYPE;
    }
    digits = strlen(pPin);
    for (DWORD i = 0; i < digits; i++)
        if (!isdigit((unsigned char)pPin[i])) {
            pOutInfo[0] = '\0';
            return E_PIN_CHARS;
        }
    if (digits < 4 || digits > 16) {
        pOutInfo[0] = '\0';
        return E_PIN_LENGTH;
    }
    cmd[0] = 0x00, cmd[1] = 0x20, cmd[2] = 0x00, cmd[3] = 0x00, cmd[4] = (digits + 1) / 2;
    for (DWORD i = 0; i < cmd[4]; i++) {
        unsigned hi = pPin[2 * i] - '0', lo = 2 * i + 1 < digits ? (unsigned)(pPin[2 * i + 1] - '0') : 0xF;
        cmd[5 + i] = (hi << 4) | lo;
    }
    pOutInfo[0] = '\0';
    rc = open_session(iType, &s);
    if (rc != OK)
        return rc;
    rc = select_ssse(&s);
    if (rc == OK)
        rc = transmit(&s, cmd, 5 + cmd[4], resp, &n, &sw);
    close_session(&s);
    if (rc != OK)
        return rc;
    if (sw == 0x9000)
        return OK;
    if ((sw & 0xFFF0) == 0x63C0) {
        snprintf(pOutInfo, OUT_SIZE, "%u", sw & 0x0F);
        return E_PIN_WRONG;
    }
    if (sw == 0x6983)
        return E_PIN_BLOCKED;
    return -(long)sw;
}

long iVerifyPIN(int iType, char *pOutInfo) {
    char pin[17];
    if (pOutInfo == NULL)
        return E_BAD_ITYPE;
    /* No PIN pad: the digits typed on it are modelled as the text in pOutInfo on entry. */
    snprintf(pin, sizeof pin, "%s", pOutInfo);
    if (strlen(pOutInfo) > 16) {
        pOutInfo[0] = '\0';
        return E_PIN_LENGTH;
    }
    return iVerifyPin(iType, pin, pOutInfo);
}
