/* fbh-guest: the caller inside the test VM, doing what QEMU does with a bridge helper, and
 * then being the guest's NIC (or an outside host's) for the test script.
 *
 *   fbh-guest helper UID GID HELPER [ARG...]
 *       drops to UID:GID (no supplementary groups), makes an AF_UNIX stream socketpair,
 *       forks and execs HELPER ARG... --fd=N with only fds 0-2 and N open, receives the
 *       tap fd (SCM_RIGHTS) and reaps the helper. Prints "helper-exit CODE",
 *       "helper-time SECONDS" (fork to reaped), then "tap NAME vnet 0|1", or "no-fd" and
 *       exits 3.
 *   fbh-guest packet IFNAME
 *       an AF_PACKET socket on IFNAME: a host on that link (outside the bridge), or a
 *       listener on a bridge port that sees what the port receives before the bridge does,
 *       without changing its promiscuity. Prints "ready".
 *
 * Then it serves until EOF on stdin: a line "send DST SRC TEXT" writes one frame (EtherType
 * 0x88b5, TEXT as payload; behind an all-zero virtio-net header on a vnet tap), and every
 * frame with that EtherType that arrives is printed as "rx DST SRC TEXT". Closing stdin
 * closes the fd, and with it the tap.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <linux/if.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ETHERTYPE_TEST 0x88b5 /* IEEE 802 local experimental: nothing else uses it */
#define VNET_HDR_LEN 10       /* struct virtio_net_hdr, no mergeable buffers */
#define HELPER_FD 7           /* any number but 0-2 */

static void die(const char *what)
{
	fprintf(stderr, "fbh-guest: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int take_tap(uid_t uid, gid_t gid, char **helper_argv, int helper_argc)
{
	if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
		die("drop privileges");
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char fdarg[32];
		char **argv = calloc(helper_argc + 2, sizeof(char *));
		if (!argv || dup2(sv[1], HELPER_FD) < 0)
			die("prepare helper");
		/* As QEMU: only 0-2 and the socket stay open in the helper. */
		for (int fd = 3; fd < 1024; fd++)
			if (fd != HELPER_FD)
				close(fd);
		snprintf(fdarg, sizeof(fdarg), "--fd=%d", HELPER_FD);
		memcpy(argv, helper_argv, helper_argc * sizeof(char *));
		argv[helper_argc] = fdarg;
		execv(argv[0], argv);
		die("exec helper");
	}
	close(sv[1]);
	char byte;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf)};
	int tap = -1;
	ssize_t n;
	do
		n = recvmsg(sv[0], &msg, 0);
	while (n < 0 && errno == EINTR);
	struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL;
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
		memcpy(&tap, CMSG_DATA(c), sizeof(int));
	int status;
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("helper-exit %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	printf("helper-time %.3f\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (tap < 0) {
		printf("no-fd\n");
		exit(3);
	}
	return tap;
}

static int open_packet(const char *ifname)
{
	int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	if (s < 0)
		die("socket AF_PACKET");
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(s, SIOCGIFINDEX, &ifr))
		die("SIOCGIFINDEX");
	/* ETH_P_ALL: a socket for one EtherType would see nothing on a bridge port, whose frames
	 * the bridge takes before protocol handlers run. */
	struct sockaddr_ll sll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL),
				  .sll_ifindex = ifr.ifr_ifindex};
	if (bind(s, (struct sockaddr *)&sll, sizeof(sll)))
		die("bind AF_PACKET");
	return s;
}

static int parse_mac(const char *s, unsigned char *mac)
{
	return sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
		      &mac[4], &mac[5]) == 6;
}

static void send_frame(int fd, size_t hdr, char *line)
{
	char dst[32], src[32], text[128];
	unsigned char frame[VNET_HDR_LEN + 1514] = {0}, *eth = frame + hdr;
	if (sscanf(line, "send %31s %31s %127s", dst, src, text) != 3 || !parse_mac(dst, eth) ||
	    !parse_mac(src, eth + 6)) {
		fprintf(stderr, "fbh-guest: bad command: %s\n", line);
		exit(2);
	}
	eth[12] = ETHERTYPE_TEST >> 8;
	eth[13] = ETHERTYPE_TEST & 0xff;
	size_t len = strlen(text);
	memcpy(eth + 14, text, len);
	len = 14 + len + 1 < 60 ? 60 : 14 + len + 1;
	if (write(fd, frame, hdr + len) != (ssize_t)(hdr + len))
		die("write frame");
}

static void print_frame(const unsigned char *eth, ssize_t len)
{
	if (len < 15 || eth[12] != ETHERTYPE_TEST >> 8 || eth[13] != (ETHERTYPE_TEST & 0xff))
		return;
	char text[65];
	int i = 0;
	for (; i < 64 && 14 + i < len && eth[14 + i] > ' ' && eth[14 + i] < 127; i++)
		text[i] = (char)eth[14 + i];
	text[i] = 0;
	printf("rx %02x:%02x:%02x:%02x:%02x:%02x %02x:%02x:%02x:%02x:%02x:%02x %s\n", eth[0],
	       eth[1], eth[2], eth[3], eth[4], eth[5], eth[6], eth[7], eth[8], eth[9], eth[10],
	       eth[11], text);
}

int main(int argc, char **argv)
{
	int fd, packet = 0;
	size_t hdr = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Fds the shell leaks to background jobs (other guests' command pipes) would keep
	 * those pipes open after the shell closes them: their guests would never see EOF. */
	for (int fd = 3; fd < 1024; fd++)
		close(fd);
	if (argc >= 5 && !strcmp(argv[1], "helper")) {
		fd = take_tap((uid_t)atoi(argv[2]), (gid_t)atoi(argv[3]), argv + 4, argc - 4);
		struct ifreq ifr = {0};
		if (ioctl(fd, TUNGETIFF, &ifr))
			die("TUNGETIFF");
		hdr = (ifr.ifr_flags & IFF_VNET_HDR) ? VNET_HDR_LEN : 0;
		printf("tap %s vnet %d\n", ifr.ifr_name, hdr != 0);
	} else if (argc == 3 && !strcmp(argv[1], "packet")) {
		fd = open_packet(argv[2]);
		packet = 1;
		printf("ready\n");
	} else {
		fprintf(stderr, "usage: fbh-guest helper UID GID HELPER [ARG...] | packet IFNAME\n");
		return 2;
	}
	/* stdin is read with read(2), not stdio: poll(2) cannot see lines stdio has buffered. */
	char line[512];
	size_t have = 0;
	unsigned char buf[65536];
	for (;;) {
		struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (p[1].revents & POLLIN) {
			struct sockaddr_ll from = {0};
			socklen_t fromlen = sizeof(from);
			ssize_t n = packet ? recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fromlen)
					   : read(fd, buf, sizeof(buf));
			if (n < 0)
				die("read frame");
			/* A packet socket also sees what its own link sends. */
			if ((size_t)n > hdr && from.sll_pkttype != PACKET_OUTGOING)
				print_frame(buf + hdr, n - (ssize_t)hdr);
		}
		if (p[0].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(0, line + have, sizeof(line) - 1 - have);
			if (n <= 0)
				return 0;
			have += (size_t)n;
			line[have] = 0;
			char *nl;
			while ((nl = memchr(line, '\n', have))) {
				*nl = 0;
				send_frame(fd, hdr, line);
				have -= (size_t)(nl + 1 - line);
				memmove(line, nl + 1, have);
			}
			if (have == sizeof(line) - 1) {
				fprintf(stderr, "fbh-guest: command too long\n");
				return 2;
			}
		}
	}
}
