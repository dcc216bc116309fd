/// The systemd units `cvmctl install` writes (`Type=notify`: the processes send READY,
/// WATCHDOG and STOPPING through `SystemdNotifier`).
enum SystemdUnits {
    /// `cvmctl-serve.service`: the daemon (API, heartbeat monitor).
    static func serve(binary: String) -> String {
        """
        [Unit]
        Description=cvmctl daemon: the CVM orchestrator's API and heartbeat monitor
        Documentation=man:cvmctl-serve(1)
        After=network-online.target libvirtd.service virtqemud.service
        Wants=network-online.target

        [Service]
        Type=notify
        NotifyAccess=main
        ExecStart=\(binary) serve --log-format json
        # Settings: /etc/cvmctl/config.yaml (flags > environment > file > defaults).
        Environment=CVM_SETTINGS=/etc/cvmctl/config.yaml
        StateDirectory=cvmctl
        StateDirectoryMode=0700
        UMask=0077
        WatchdogSec=30s
        # The daemon's own shutdown is bounded (10 s graceful, 15 s in all).
        TimeoutStopSec=30s
        KillMode=mixed
        Restart=on-failure
        RestartSec=2s

        [Install]
        WantedBy=multi-user.target

        """
    }

    /// `cvmctl-tms.service`: the traffic manager, with its configuration in
    /// `/etc/cvmctl/tms.yaml`; `systemctl reload` re-reads it (SIGHUP).
    static func trafficManager(binary: String) -> String {
        """
        [Unit]
        Description=cvmctl traffic manager (vServers, quotas, backup chains, offloaded tasks)
        Documentation=man:cvmctl-tms-run(1)
        After=network-online.target cvmctl-serve.service
        Wants=network-online.target

        [Service]
        Type=notify
        NotifyAccess=main
        ExecStart=\(binary) tms run --config /etc/cvmctl/tms.yaml --log-format json
        ExecReload=/bin/kill -HUP $MAINPID
        Environment=CVM_SETTINGS=/etc/cvmctl/config.yaml
        StateDirectory=cvmctl
        StateDirectoryMode=0700
        UMask=0077
        WatchdogSec=30s
        # Connections drain for the configuration's drainTimeout (30 s by default).
        TimeoutStopSec=90s
        KillMode=mixed
        Restart=on-failure
        RestartSec=2s
        LimitNOFILE=1048576

        [Install]
        WantedBy=multi-user.target

        """
    }

    /// The settings file `install` writes when there is none: every key commented out, so it
    /// changes nothing until edited.
    static let settingsSample = """
        # cvmctl settings (flags > environment variables > this file > defaults).
        # `cvmctl config` shows each setting in force and where it came from. Paths are absolute.
        #
        # state: /var/lib/cvmctl            # the store (state.sqlite) and local volumes
        # images: /var/lib/cvmctl/images    # the image catalog
        # connect: qemu:///system           # the local libvirt
        # virtType: auto                    # auto (probe KVM, else TCG), kvm or qemu
        # subnet: 10.77.0.0/24              # CVM addresses on the local bridge
        # migrationAddress: 192.0.2.10      # the address remote hosts reach this one at
        # logFormat: json                   # text or json
        # apiListen: 127.0.0.1:9911         # cvmctl serve
        # apiTLSCertificate: /etc/cvmctl/api.crt  # HTTPS (with apiTLSKey); needed to listen off loopback
        # apiTLSKey: /etc/cvmctl/api.key          # mode 0600
        # tmsAdmin: 127.0.0.1:9901          # the traffic manager's admin endpoint
        # policyRepo: /srv/cvm-policies     # git repository holding policies/

        """
}
