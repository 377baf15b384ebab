/*
 * The disk's floor for one durable acknowledgement: N rounds of one 200-byte write followed by
 * fdatasync, in C with nothing else around it, three ways. Prints one JSON line per mode.
 *
 *   append     write at the end of a growing file (what an append-only log does)
 *   overwrite  pwrite into a file zero-filled and fsync'd beforehand (no size or extent
 *              change left for the journal: the preallocated-log case)
 *   dsync      the same overwrite through an O_DSYNC descriptor, no fdatasync call
 *
 *   gcc -O2 -o /tmp/fdatasync-floor bench/storage/fdatasync-floor.c
 *   /tmp/fdatasync-floor DIR [rounds]        (DIR on the disk to measure; default 2000 rounds)
 *
 * Benchmark tooling only (bench/RESULTS.md, "resp streams"); the broker stays TypeScript.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int zero_fill(int fd, long bytes) {
  static char zeros[65536];
  for (long done = 0; done < bytes; done += sizeof zeros)
    if (write(fd, zeros, sizeof zeros) != (ssize_t)sizeof zeros) return -1;
  return fsync(fd);
}

static int run(const char *dir, const char *mode, int rounds) {
  char path[4096];
  snprintf(path, sizeof path, "%s/fdatasync-floor.dat", dir);
  unlink(path);
  int append = strcmp(mode, "append") == 0;
  int dsync = strcmp(mode, "dsync") == 0;
  int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
  if (fd < 0) return perror(path), -1;
  if (!append && zero_fill(fd, (long)rounds * 200 + 65536) != 0) return perror("zero fill"), -1;
  if (dsync) {
    close(fd);
    fd = open(path, O_RDWR | O_DSYNC);
    if (fd < 0) return perror(path), -1;
  }
  char record[200];
  memset(record, 'x', sizeof record);
  double started = now_us();
  for (int i = 0; i < rounds; i++) {
    ssize_t n = append ? write(fd, record, sizeof record)
                       : pwrite(fd, record, sizeof record, (off_t)i * sizeof record);
    if (n != (ssize_t)sizeof record) return perror("write"), -1;
    if (!dsync && fdatasync(fd) != 0) return perror("fdatasync"), -1;
  }
  double per_round = (now_us() - started) / rounds;
  close(fd);
  unlink(path);
  printf("{\"bench\":\"fdatasync-floor\",\"mode\":\"%s\",\"rounds\":%d,\"us_per_round\":%.1f}\n",
         mode, rounds, per_round);
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) return fprintf(stderr, "usage: %s DIR [rounds]\n", argv[0]), 2;
  int rounds = argc > 2 ? atoi(argv[2]) : 2000;
  if (rounds < 1 || rounds > 1000000) return fprintf(stderr, "rounds: 1..1000000\n"), 2;
  const char *modes[] = {"append", "overwrite", "dsync"};
  for (int i = 0; i < 3; i++)
    if (run(argv[1], modes[i], rounds) != 0) return 1;
  return 0;
}
