/* The floor for `make bench`: a bare libcurl multi client doing what the agent's key canary
 * does, and nothing else. COUNT resources under BASE, each POSTed every INTERVAL seconds on
 * kept-alive connections, at most COUNT in flight, with the agent's headers and body; no
 * parsing, no metrics, no logs. After WARMUP seconds it counts WINDOW seconds of completed
 * requests and the CPU this process spent on them, and prints "REQUESTS CPU_SECONDS".
 *
 *   floor BASE COUNT INTERVAL WARMUP WINDOW
 *
 * BASE is the bench target's URL with a trailing slash; resource i is BASE "r<i>/". */
#include <curl/curl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char body[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"Say OK.\"}],\"max_tokens\":1}";

struct slot {
    CURL *easy;
    double due;     /* monotonic seconds at which the next call starts */
    int busy;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

/* The answer is read and dropped, as a prober that does not look at it would. */
static size_t discard(char *data, size_t size, size_t count, void *user) {
    (void)data;
    (void)user;
    return size * count;
}

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: floor BASE COUNT INTERVAL WARMUP WINDOW\n");
        return 64;
    }
    const char *base = argv[1];
    int count = atoi(argv[2]);
    double interval = atof(argv[3]), warmup = atof(argv[4]), window = atof(argv[5]);
    if (count <= 0 || interval <= 0 || window <= 0 || warmup < 0) {
        fprintf(stderr, "floor: COUNT, INTERVAL and WINDOW must be positive\n");
        return 64;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 70;
    CURLM *multi = curl_multi_init();
    if (multi == NULL) return 70;
    /* One pool of kept-alive connections for every resource (they share the target's host), and
     * large enough that no connection is closed between rounds. */
    curl_multi_setopt(multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)count);
    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, (long)count);
    struct curl_slist *headers = NULL;
    headers = curl_slist_append(headers, "api-key: bench-key");
    headers = curl_slist_append(headers, "Content-Type: application/json");
    struct slot *slots = calloc((size_t)count, sizeof *slots);
    if (slots == NULL || headers == NULL) return 70;
    double start = now();
    for (int i = 0; i < count; i++) {
        char url[2048];
        snprintf(url, sizeof url, "%sr%d/openai/deployments/d/chat/completions?api-version=2024-10-21", base, i);
        CURL *easy = curl_easy_init();
        if (easy == NULL) return 70;
        curl_easy_setopt(easy, CURLOPT_URL, url);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE, (long)(sizeof body - 1));
        curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
        curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, &slots[i]);
        slots[i].easy = easy;
        slots[i].due = start + interval * i / count; /* spread over the interval, as the agent does */
    }
    double windowStart = start + warmup, windowEnd = windowStart + window;
    double cpuStart = -1;
    long requests = 0, failures = 0;
    int cursor = 0;
    for (;;) {
        double t = now();
        if (cpuStart < 0 && t >= windowStart) cpuStart = cpu();
        if (t >= windowEnd) break;
        /* The slots fall due in turn (each a fixed offset into the interval), so the next one
         * is always at the cursor: no scan of all of them per wake-up. A slot still in flight
         * when due skips its turn, as the agent's schedule does. */
        while (slots[cursor].due <= t) {
            struct slot *s = &slots[cursor];
            if (!s->busy) {
                if (curl_multi_add_handle(multi, s->easy) != CURLM_OK) return 70;
                s->busy = 1;
            }
            s->due += interval;
            cursor = (cursor + 1) % count;
        }
        double next = slots[cursor].due < windowEnd ? slots[cursor].due : windowEnd;
        int running = 0;
        if (curl_multi_perform(multi, &running) != CURLM_OK) return 70;
        CURLMsg *message;
        int left;
        while ((message = curl_multi_info_read(multi, &left)) != NULL) {
            if (message->msg != CURLMSG_DONE) continue;
            struct slot *s;
            curl_easy_getinfo(message->easy_handle, CURLINFO_PRIVATE, (char **)&s);
            if (now() >= windowStart) {
                requests++;
                if (message->data.result != CURLE_OK) failures++;
            }
            curl_multi_remove_handle(multi, message->easy_handle);
            s->busy = 0;
        }
        /* Rounded up: a wait rounded down to 0 ms would spin until the next slot. */
        int wait = (int)ceil((next - now()) * 1000);
        if (wait < 0) wait = 0;
        if (wait > 100) wait = 100;
        if (curl_multi_poll(multi, NULL, 0, wait, NULL) != CURLM_OK) return 70;
    }
    double spent = cpu() - (cpuStart < 0 ? 0 : cpuStart);
    printf("%ld %.6f %ld\n", requests, spent, failures);
    for (int i = 0; i < count; i++) {
        if (slots[i].busy) curl_multi_remove_handle(multi, slots[i].easy);
        curl_easy_cleanup(slots[i].easy);
    }
    curl_slist_free_all(headers);
    curl_multi_cleanup(multi);
    curl_global_cleanup();
    free(slots);
    return 0;
}
