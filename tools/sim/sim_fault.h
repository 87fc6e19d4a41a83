/*
 * sim_fault.h - fault injection specs: "status=503,delay=200", "reset-after=3", "hang", ...
 *
 * A spec comes from --fault (every request) and/or the x-sim-fault request header, which is
 * parsed on top of the process spec so its items override. A plain value struct; no ownership.
 */
#ifndef SIM_FAULT_H
#define SIM_FAULT_H

#include <stddef.h>

#define SIM_FAULT_OFF (-1)

struct sim_fault {
    int status;           /* answer this HTTP status at once (0 = no) */
    long delay_ms;        /* wait before sending the response head */
    int hang;             /* never answer */
    long reset_after;     /* chunks before a TCP reset, or SIM_FAULT_OFF */
    long malformed_after; /* chunks before one invalid-JSON frame, or SIM_FAULT_OFF */
    long error_after;     /* chunks before a mid-stream error frame, or SIM_FAULT_OFF */
    long stall_after;     /* chunks before going silent, or SIM_FAULT_OFF */
};

/* Sets f to "no fault". */
void sim_fault_init(struct sim_fault *f);
/* Parses spec[0..len) onto f (items present override). Returns SIM_OK, or SIM_ERR with f
 * partly updated and a reason in err. */
int sim_fault_parse(struct sim_fault *f, const char *spec, size_t len, char *err, size_t errlen);
/* Returns non-zero when f changes anything. */
int sim_fault_any(const struct sim_fault *f);

#endif
