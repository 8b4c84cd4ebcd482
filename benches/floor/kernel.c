/* The kernel floor of a managed call: only the system calls any helper must make, with no
 * privilege handling, ACL, parsing beyond argv, logging or error reporting beyond one line.
 * Called as the helpers are (`--use-vnet --fd=N --br=BR --mac=M`), it creates a tap,
 * enslaves it, adds a static sticky FDB entry, turns learning and flooding off and sends the
 * fd. Built by the benchmark with `cc -O2 -static`: a measuring stick, not a product. */
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_bridge.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

struct req {
    struct nlmsghdr nh;
    char body[512];
};

static int nl, seq;

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static struct rtattr *put(struct req *r, unsigned short type, const void *data, int len)
{
    struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->nh.nlmsg_len));
    a->rta_type = type;
    a->rta_len = RTA_LENGTH(len);
    if (len)
        memcpy(RTA_DATA(a), data, len);
    r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
    return a;
}

static void nest_end(struct req *r, struct rtattr *a)
{
    a->rta_len = (char *)r + r->nh.nlmsg_len - (char *)a;
}

/* Sends `r` and returns the answer (an ack, an error or a reply) in `buf`. */
static struct nlmsghdr *talk(struct req *r, char *buf, size_t size, const char *what)
{
    r->nh.nlmsg_seq = ++seq;
    if (send(nl, r, r->nh.nlmsg_len, 0) < 0)
        die(what);
    if (recv(nl, buf, size, 0) < 0)
        die(what);
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (h->nlmsg_type == NLMSG_ERROR) {
        struct nlmsgerr *e = NLMSG_DATA(h);
        if (e->error) {
            fprintf(stderr, "%s: %s\n", what, strerror(-e->error));
            exit(1);
        }
    }
    return h;
}

static struct req link_req(unsigned short type, unsigned short flags, int index)
{
    struct req r = {.nh = {.nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | flags}};
    r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg));
    struct ifinfomsg *i = NLMSG_DATA(&r.nh);
    i->ifi_index = index;
    return r;
}

/* RTM_GETLINK by name: the index, and the MTU. */
static int get_link(const char *name, unsigned *mtu)
{
    char buf[8192];
    struct req r = link_req(RTM_GETLINK, 0, 0);
    put(&r, IFLA_IFNAME, name, strlen(name) + 1);
    struct nlmsghdr *h = talk(&r, buf, sizeof buf, "RTM_GETLINK");
    struct ifinfomsg *i = NLMSG_DATA(h);
    int len = IFLA_PAYLOAD(h);
    for (struct rtattr *a = IFLA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len))
        if (a->rta_type == IFLA_MTU && mtu)
            memcpy(mtu, RTA_DATA(a), sizeof *mtu);
    return i->ifi_index;
}

int main(int argc, char **argv)
{
    const char *bridge = NULL, *mac_text = NULL;
    int vnet = 0, sock = -1;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--use-vnet"))
            vnet = 1;
        else if (!strncmp(argv[k], "--fd=", 5))
            sock = atoi(argv[k] + 5);
        else if (!strncmp(argv[k], "--br=", 5))
            bridge = argv[k] + 5;
        else if (!strncmp(argv[k], "--mac=", 6))
            mac_text = argv[k] + 6;
    }
    unsigned char mac[6];
    if (!bridge || !mac_text || sock < 3 ||
        sscanf(mac_text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2], &mac[3],
               &mac[4], &mac[5]) != 6) {
        fprintf(stderr, "usage: %s [--use-vnet] --fd=N --br=BRIDGE --mac=MAC\n", argv[0]);
        return 2;
    }

    int tun = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    if (tun < 0)
        die("open /dev/net/tun");
    unsigned features = 0;
    if (ioctl(tun, TUNGETFEATURES, &features) < 0)
        die("TUNGETFEATURES");
    struct ifreq ifr = {.ifr_flags = IFF_TAP | IFF_NO_PI};
    if (vnet && (features & IFF_VNET_HDR))
        ifr.ifr_flags |= IFF_VNET_HDR;
    strcpy(ifr.ifr_name, "tap%d");
    if (ioctl(tun, TUNSETIFF, &ifr) < 0)
        die("TUNSETIFF");

    nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    if (nl < 0 || connect(nl, (struct sockaddr *)&kernel, sizeof kernel) < 0)
        die("netlink socket");
    unsigned mtu = 0;
    int br = get_link(bridge, &mtu);
    int tap = get_link(ifr.ifr_name, NULL);

    char ack[1024];
    /* Address fe:.., the bridge's MTU, master. */
    unsigned pid = getpid();
    unsigned char addr[6] = {0xfe, 0x54, pid >> 24, pid >> 16, pid >> 8, pid};
    struct req r = link_req(RTM_SETLINK, NLM_F_ACK, tap);
    put(&r, IFLA_ADDRESS, addr, 6);
    put(&r, IFLA_MTU, &mtu, 4);
    put(&r, IFLA_MASTER, &br, 4);
    talk(&r, ack, sizeof ack, "RTM_SETLINK");

    /* The guest's static, sticky entry on the tap. */
    r = (struct req){.nh = {.nlmsg_type = RTM_NEWNEIGH,
                            .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL}};
    r.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct ndmsg));
    struct ndmsg *nd = NLMSG_DATA(&r.nh);
    *nd = (struct ndmsg){.ndm_family = AF_BRIDGE, .ndm_ifindex = tap, .ndm_state = NUD_NOARP,
                         .ndm_flags = NTF_MASTER | NTF_STICKY};
    put(&r, NDA_LLADDR, mac, 6);
    talk(&r, ack, sizeof ack, "RTM_NEWNEIGH");

    /* Learning off, unicast flooding off, up. */
    r = link_req(RTM_NEWLINK, NLM_F_ACK, tap);
    struct ifinfomsg *i = NLMSG_DATA(&r.nh);
    i->ifi_flags = i->ifi_change = IFF_UP;
    struct rtattr *info = put(&r, IFLA_LINKINFO, NULL, 0);
    put(&r, IFLA_INFO_SLAVE_KIND, "bridge", 7);
    struct rtattr *data = put(&r, IFLA_INFO_SLAVE_DATA, NULL, 0);
    unsigned char off = 0;
    put(&r, IFLA_BRPORT_LEARNING, &off, 1);
    put(&r, IFLA_BRPORT_UNICAST_FLOOD, &off, 1);
    nest_end(&r, data);
    nest_end(&r, info);
    talk(&r, ack, sizeof ack, "RTM_NEWLINK");

    /* One byte, the tap fd in SCM_RIGHTS. */
    char byte = 0, cbuf[CMSG_SPACE(sizeof(int))] = {0};
    struct iovec iov = {.iov_base = &byte, .iov_len = 1};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                         .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &tun, sizeof(int));
    if (sendmsg(sock, &msg, 0) != 1)
        die("sendmsg");
    return 0;
}
