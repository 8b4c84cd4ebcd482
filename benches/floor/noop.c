/* The exec floor: a static program that does nothing. Built by the benchmark with
 * `cc -O2 -static`; spawned exactly as the helpers are. */
int main(void)
{
    return 0;
}
