#!/usr/bin/env python3
"""Write the seed corpus of fuzz_cloud_api (tests/fuzz/seeds/cloud_api):
one request per file, in the harness's format (a byte for the method and
the token, the path, '\\n', the query, '\\n', the body), in an order that
builds a small cloud in the fixture's group "rg": a size, a network, an
NSG and a rule, a public IP, a NIC, a disk and a snapshot, VMs and their
operations, a scale set with autoscale, the listings, then deletes.

    tests/fuzz/gen_api_seeds.py tests/fuzz/seeds/cloud_api
"""
import json
import os
import sys

GET, PUT, POST, DELETE, PATCH = 0, 1, 2, 3, 4
RG = "/v1/resourceGroups/rg"

SEEDS = [
    (GET, "/v1/health", "", None),
    (POST, "/v1/resourceGroups", "", {"name": "web", "location": "local", "tags": {"t": "x"}}),
    (PUT, "/v1/resourceGroups/put", "", {"location": "local"}),
    (PATCH, "/v1/resourceGroups/web", "", {"tags": {"a": "b"}}),
    (POST, "/v1/sizes", "", {"name": "T1", "vcpus": 1, "memoryMiB": 128, "pricePerHour": 0.01,
                             "burstable": {"baselinePercent": 10, "initialCredits": 30,
                                           "creditsPerHour": 6, "maxCredits": 144}}),
    (PATCH, "/v1/sizes/T1", "", {"pricePerHour": 0.5, "maxDataDisks": 4}),
    (PATCH, "/v1/hosts/box", "", {"cpus": 4, "cpuAllocationRatio": 2.5}),
    (POST, RG + "/virtualNetworks", "", {"name": "v", "addressSpaces": ["10.0.0.0/16"],
                                          "subnets": [{"name": "a", "addressPrefix": "10.0.1.0/24"}]}),
    (POST, RG + "/virtualNetworks/v/subnets", "", {"name": "b", "addressPrefix": "10.0.2.0/24"}),
    (POST, RG + "/networkSecurityGroups", "", {"name": "n", "rules": [
        {"name": "http", "priority": 100, "direction": "Inbound", "access": "Allow",
         "protocol": "Tcp", "destinationPortRange": "80"}]}),
    (PUT, RG + "/networkSecurityGroups/n/rules/ssh", "", {
        "priority": 200, "direction": "Inbound", "access": "Allow", "destinationPortRange": "22"}),
    (PATCH, RG + "/virtualNetworks/v/subnets/a", "", {"nsg": "n"}),
    (POST, RG + "/publicIPAddresses", "", {"name": "p", "ports": [{"protocol": "Tcp", "port": 80}]}),
    (POST, RG + "/networkInterfaces", "", {"name": "nic", "vnet": "v", "subnet": "a",
                                            "publicIp": "p"}),
    (POST, RG + "/disks", "", {"name": "d", "sizeGiB": 1, "tier": "Standard_HDD"}),
    (PATCH, RG + "/disks/d", "", {"sizeGiB": 2}),
    (POST, RG + "/snapshots", "", {"name": "s", "disk": "d"}),
    (POST, RG + "/virtualMachines", "", {"name": "vm", "size": "Small", "image": "default",
                                          "dataDisks": [{"sizeGiB": 1, "lun": 1}], "vnet": "v",
                                          "subnet": "a", "publicIp": True}),
    (POST, RG + "/virtualMachines", "", {"name": "vm2", "size": "Small",
                                          "networkInterfaces": ["nic"]}),
    (GET, RG + "/virtualMachines/vm", "", None),
    (PATCH, RG + "/virtualMachines/vm", "", {"tags": {"k": "v"}}),
    (POST, RG + "/virtualMachines/vm/stop", "", None),
    (POST, RG + "/virtualMachines/vm/deallocate", "hibernate=false", None),
    (POST, RG + "/virtualMachines/vm/resize", "", {"size": "T1"}),
    (POST, RG + "/virtualMachines/vm/dataDisks", "", {"disk": "d", "lun": 2}),
    (POST, RG + "/virtualMachines/vm/start", "", None),
    (POST, RG + "/virtualMachines/vm/openPort", "", {"port": 8080, "priority": 900}),
    (POST, RG + "/virtualMachines/vm/runCommand", "", {"script": "echo hi", "timeoutSeconds": 5}),
    (GET, RG + "/virtualMachines/vm/runCommands", "", None),
    (GET, RG + "/virtualMachines/vm/metrics", "names=cpuPercent,cpuCredits", None),
    (POST, RG + "/virtualMachineScaleSets", "", {"name": "ss", "size": "Small", "capacity": 2,
                                                  "loadBalancer": {"port": 80}}),
    (PATCH, RG + "/virtualMachineScaleSets/ss", "", {"capacity": 3}),
    (POST, RG + "/autoscaleSettings", "", {"name": "as", "scaleSet": "ss", "minimum": 1,
                                            "maximum": 5, "default": 2, "enabled": True}),
    (GET, RG + "/resources", "", None),
    (GET, "/v1/usage", "", None),
    (GET, "/v1/cost", "groupBy=resourceGroup", None),
    (GET, "/metrics", "", None),
    (GET, "/v1/images/default", "", None),
    (DELETE, RG + "/virtualMachines/vm2", "keepDisks=true", None),
    (DELETE, RG + "/networkSecurityGroups/n/rules/ssh", "", None),
    (DELETE, "/v1/resourceGroups/web", "", None),
    (GET, RG + "/virtualMachines", "", None) ,
]


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for i, (method, path, query, body) in enumerate(SEEDS):
        text = path + "\n" + query + "\n" + ("" if body is None else json.dumps(body))
        with open(os.path.join(out, "%02d" % i), "wb") as f:
            f.write(bytes([method]) + text.encode())


if __name__ == "__main__":
    main()
