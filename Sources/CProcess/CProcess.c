// See CProcess.h.
#include "CProcess.h"
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void CProcess_keep_large_blocks_mapped(void) {
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
}

void CProcess_return_free_memory(void) {
    malloc_trim(0);
}

void CProcess_run_as_init_when_pid1(void) {
    if (getpid() != 1) return;
    // Signals are blocked before the fork, so none is lost between it and the wait below; the
    // child gets its mask back. Blocked, a signal to PID 1 is queued rather than dropped.
    sigset_t all, before;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &before);
    pid_t child = fork();
    if (child <= 0) {
        // The child, or no fork possible: run the program here.
        sigprocmask(SIG_SETMASK, &before, NULL);
        return;
    }
    for (;;) {
        struct timespec second = {1, 0};
        siginfo_t info;
        int number = sigtimedwait(&all, &info, &second);
        if (number > 0 && number != SIGCHLD) kill(child, number);
        for (;;) {
            int status = 0;
            pid_t ended = waitpid(-1, &status, WNOHANG);
            if (ended <= 0) break;
            if (ended != child) continue;
            // The program ended: its status is the container's. What is left is killed with
            // the namespace when this process exits.
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
    }
}
